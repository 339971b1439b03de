"""BFCL-style call accuracy (`schemas/call_accuracy.py`) and BFCL test sets and result files
(`tasks/evaluation/bfcl_set.py`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.call_accuracy import CallCheck, check_calls, ground_truth_of, normalized
from schemas.errors import InputError
from tasks.evaluation.bfcl_set import read_answers, read_bfcl, score_answers

WEATHER = {
    "name": "getWeather",
    "description": "The weather of a city.",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string"},
            "date": {"type": "string"},
            "days": {"type": "integer"},
            "unit": {"type": "string", "default": "celsius"},
        },
        "required": ["city"],
    },
}
ROUTE_TOOL = {
    "type": "function",
    "function": {
        "name": "route",
        "description": "A route through stops.",
        "parameters": {
            "type": "object",
            "properties": {
                "stops": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"lat": {"type": "number"}}},
                },
                "options": {"type": "object", "properties": {"fast": {"type": "boolean"}}},
                "ratio": {"type": "number"},
            },
            "required": ["stops"],
        },
    },
}
FUNCTIONS = [WEATHER, ROUTE_TOOL]


def truth(name: str, **allowed: list[Any]) -> dict[str, dict[str, list[Any]]]:
    return {name: allowed}


PARIS = truth("getWeather", city=["Paris"], date=[""], days=[""], unit=[""])


def check(calls: list[tuple[str, dict[str, Any]]], ground_truth: list[Any]) -> CallCheck:
    return check_calls(calls, ground_truth, FUNCTIONS)


def test_an_exact_call_is_correct_and_a_wrong_value_names_function_and_parameter() -> None:
    assert check([("getWeather", {"city": "Paris"})], [PARIS]) == CallCheck(correct=True, problems=[])
    wrong = check([("getWeather", {"city": "London"})], [PARIS])
    assert not wrong.correct
    assert wrong.problems == ["getWeather: city 'London' is not one of ['Paris']"]


def test_strings_are_compared_as_bfcl_standardises_them() -> None:
    assert normalized("New York") == normalized("new york") == "newyork"
    assert normalized(["2024-01-05", {"a": "It's"}]) == ["20240105", {"a": 'it"s'}]
    ny = [truth("getWeather", city=["New York"], date=["2024-01-05"], days=[""], unit=[""])]
    assert check([("getWeather", {"city": "new york", "date": "20240105"})], ny).correct
    assert check([("getWeather", {"city": "NEW_YORK", "date": "2024/01/05"})], ny).correct
    assert not check([("getWeather", {"city": "New Yorkshire", "date": "2024-01-05"})], ny).correct


def test_an_int_passes_for_a_float_but_a_string_not_for_an_int() -> None:
    route = [truth("route", stops=[[{"lat": [1.5]}]], options=[""], ratio=[2.0])]
    assert check([("route", {"stops": [{"lat": 1.5}], "ratio": 2})], route).correct
    days = [truth("getWeather", city=["Paris"], date=[""], days=[3], unit=[""])]
    assert check([("getWeather", {"city": "Paris", "days": 3})], days).correct
    refused = check([("getWeather", {"city": "Paris", "days": "3"})], days)
    assert not refused.correct
    assert refused.problems == ["getWeather: days should be integer, got string '3'"]
    boolean = check([("getWeather", {"city": "Paris", "days": True})], days)
    assert not boolean.correct


def test_a_missing_required_parameter_fails() -> None:
    missing = check([("getWeather", {"unit": "celsius"})], [PARIS])
    assert not missing.correct
    assert "getWeather: required parameter 'city' is missing" in missing.problems


def test_an_optional_parameter_may_be_left_out_only_where_empty_is_allowed() -> None:
    assert check([("getWeather", {"city": "Paris"})], [PARIS]).correct
    needs_unit = [truth("getWeather", city=["Paris"], date=[""], days=[""], unit=["fahrenheit"])]
    left_out = check([("getWeather", {"city": "Paris"})], needs_unit)
    assert not left_out.correct
    assert left_out.problems == ["getWeather: parameter 'unit' is missing (expected one of ['fahrenheit'])"]
    either = [truth("getWeather", city=["Paris"], date=[""], days=[""], unit=["celsius", ""])]
    assert check([("getWeather", {"city": "Paris"})], either).correct
    assert check([("getWeather", {"city": "Paris", "unit": "celsius"})], either).correct
    given = check([("getWeather", {"city": "Paris", "days": 2})], [PARIS])
    assert given.problems == ["getWeather: days 2 is given where it should be left out"]


def test_a_parameter_the_function_does_not_define_fails() -> None:
    extra = check([("getWeather", {"city": "Paris", "country": "FR"})], [PARIS])
    assert not extra.correct
    assert extra.problems == ["getWeather: parameter 'country' is not defined"]


def test_parallel_calls_match_in_any_order_but_one_to_one() -> None:
    lyon = truth("getWeather", city=["Lyon"], date=[""], days=[""], unit=[""])
    paris, lyon_call = ("getWeather", {"city": "Paris"}), ("getWeather", {"city": "Lyon"})
    assert check([paris, lyon_call], [PARIS, lyon]).correct
    assert check([lyon_call, paris], [PARIS, lyon]).correct
    twice = check([paris, paris], [PARIS, lyon])
    assert not twice.correct
    assert twice.problems == ["getWeather: city 'Paris' is not one of ['Lyon']"]


def test_parallel_matching_is_not_fooled_by_a_call_that_fits_two_answers() -> None:
    """BFCL's greedy pass would give the first call to the first answer and fail; a matching exists."""
    loose = truth("getWeather", city=["Paris", "Lyon"], date=[""], days=[""], unit=[""])
    assert check(
        [("getWeather", {"city": "Paris"}), ("getWeather", {"city": "Lyon"})], [loose, PARIS]
    ).correct


def test_the_number_of_calls_must_be_the_answers() -> None:
    paris = ("getWeather", {"city": "Paris"})
    more = check([paris, paris], [PARIS])
    assert not more.correct
    assert more.problems == [
        "wrong number of calls: 2 made, 1 expected",
        "getWeather: called where no such call was expected",
    ]
    none = check([], [PARIS])
    assert none.problems == ["wrong number of calls: 0 made, 1 expected", "getWeather: not called"]
    other = check([("route", {"stops": []})], [PARIS])
    assert other.problems == ["route: called where getWeather was expected"]


def test_irrelevance_is_correct_only_without_a_call() -> None:
    assert check([], []).correct
    called = check([("getWeather", {"city": "Paris"})], [])
    assert not called.correct
    assert called.problems == ["getWeather: called, but the request needs no call"]


def test_objects_and_lists_of_objects_are_checked_field_by_field() -> None:
    route = [
        truth(
            "route", stops=[[{"lat": [1.5]}, {"lat": [2.0, 2.5]}]], options=[{"fast": [True, ""]}], ratio=[""]
        )
    ]
    assert check(
        [("route", {"stops": [{"lat": 1.5}, {"lat": 2.5}], "options": {"fast": True}})], route
    ).correct
    assert check([("route", {"stops": [{"lat": 1.5}, {"lat": 2}], "options": {}})], route).correct
    swapped = check([("route", {"stops": [{"lat": 2.5}, {"lat": 1.5}], "options": {}})], route)
    assert swapped.problems == ["route: stops[0].lat 2.5 is not one of [1.5]"]
    extra_field = check([("route", {"stops": [{"lat": 1.5}, {"lat": 2}], "options": {"slow": True}})], route)
    assert extra_field.problems == ["route: options.slow is not an expected field"]
    short = check([("route", {"stops": [{"lat": 1.5}], "options": {}})], route)
    assert not short.correct
    wrong_type = check([("route", {"stops": [{"lat": "north"}, {"lat": 2}], "options": {}})], route)
    assert wrong_type.problems == ["route: stops[0].lat should be float, got string 'north'"]


def test_bfcl_functions_and_openai_tools_are_both_read() -> None:
    as_bfcl = {
        "name": "route",
        "description": "",
        "parameters": {
            "type": "dict",
            "properties": {"stops": {"type": "array", "items": {"type": "dict"}}, "ratio": {"type": "float"}},
            "required": ["stops"],
        },
    }
    answer = [truth("route", stops=[[]], ratio=[0.5])]
    for functions in ([as_bfcl], [ROUTE_TOOL]):
        assert check_calls([("route", {"stops": [], "ratio": 0.5})], answer, functions).correct
        missing = check_calls([("route", {"ratio": 0.5})], answer, functions)
        assert "route: required parameter 'stops' is missing" in missing.problems
        typed = check_calls([("route", {"stops": [], "ratio": "half"})], answer, functions)
        assert typed.problems == ["route: ratio should be float, got string 'half'"]


def test_golden_calls_pass_against_their_own_ground_truth() -> None:
    calls = [
        ("getWeather", {"city": "Paris", "days": 3, "unit": "celsius"}),
        ("route", {"stops": [{"lat": 1}, {"lat": 2.5}], "options": {"fast": False}, "ratio": 2}),
        ("getWeather", {"city": "Lyon"}),
    ]
    answer = ground_truth_of(calls, FUNCTIONS)
    assert answer[0] == {
        "getWeather": {"city": ["Paris"], "days": [3], "unit": ["celsius", ""], "date": [""]}
    }
    assert answer[1]["route"]["ratio"] == [2.0]
    assert check_calls(calls, answer, FUNCTIONS).correct
    assert check_calls(list(reversed(calls)), answer, FUNCTIONS).correct
    assert not check_calls(calls[:2], answer, FUNCTIONS).correct


def write_lines(path: Path, rows: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def question(bfcl_id: str, functions: list[Any]) -> dict[str, Any]:
    return {
        "id": bfcl_id,
        "question": [[{"role": "user", "content": "Weather in Paris?"}]],
        "function": functions,
    }


def bfcl_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "bfcl"
    write_lines(folder / "BFCL_v4_simple_python.json", [question("simple_python_0", [WEATHER])])
    write_lines(
        folder / "possible_answer" / "BFCL_v4_simple_python.json",
        [{"id": "simple_python_0", "ground_truth": [PARIS]}],
    )
    write_lines(folder / "BFCL_v4_parallel.json", [question("parallel_0", [WEATHER])])
    lyon = truth("getWeather", city=["Lyon"], date=[""], days=[""], unit=[""])
    write_lines(
        folder / "possible_answer" / "BFCL_v4_parallel.json",
        [{"id": "parallel_0", "ground_truth": [PARIS, lyon]}],
    )
    write_lines(
        folder / "BFCL_v4_irrelevance.json",
        [question("irrelevance_0", [WEATHER]), question("irrelevance_1", [WEATHER])],
    )
    return folder


def test_a_bfcl_folder_is_read_and_a_result_file_scored(tmp_path: Path) -> None:
    questions = read_bfcl(bfcl_folder(tmp_path))
    assert [(q.id, q.category) for q in questions] == [
        ("irrelevance_0", "irrelevance"),
        ("irrelevance_1", "irrelevance"),
        ("parallel_0", "parallel"),
        ("simple_python_0", "simple_python"),
    ]
    assert questions[0].ground_truth == [] and questions[3].ground_truth == [PARIS]
    assert questions[3].question == [{"role": "user", "content": "Weather in Paris?"}]
    assert questions[3].functions == [WEATHER]
    results = tmp_path / "result.json"
    write_lines(
        results,
        [
            {"id": "simple_python_0", "result": [{"getWeather": {"city": "paris"}}]},
            {
                "id": "parallel_0",
                "result": json.dumps([{"getWeather": {"city": "Lyon"}}, {"getWeather": '{"city": "Paris"}'}]),
            },
            {"id": "irrelevance_0", "result": "I cannot tell the weather of a feeling."},
        ],
    )
    answers = read_answers(results)
    assert answers["parallel_0"] == [("getWeather", {"city": "Lyon"}), ("getWeather", {"city": "Paris"})]
    assert answers["irrelevance_0"] == []
    scored = {q.id: result for q, result in score_answers(questions, answers)}
    assert (
        scored["simple_python_0"].correct and scored["parallel_0"].correct and scored["irrelevance_0"].correct
    )
    assert scored["irrelevance_1"] == CallCheck(correct=False, problems=["no answer"])


def test_each_problem_with_a_bfcl_folder_names_its_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        read_bfcl(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no BFCL question file"):
        read_bfcl(tmp_path / "empty")
    folder = bfcl_folder(tmp_path)
    simple = folder / "BFCL_v4_simple_python.json"
    simple.write_text(simple.read_text() + "{not json\n")
    with pytest.raises(InputError, match=r"BFCL_v4_simple_python\.json line 2: not JSON"):
        read_bfcl(folder)
    simple.write_text(json.dumps({"id": "simple_python_1", "function": [WEATHER]}) + "\n")
    with pytest.raises(InputError, match=r"BFCL_v4_simple_python\.json line 1: lacks 'question'"):
        read_bfcl(folder)
    write_lines(simple, [question("simple_python_0", [WEATHER]), question("simple_python_7", [WEATHER])])
    with pytest.raises(
        InputError,
        match=r"possible_answer/BFCL_v4_simple_python\.json: no possible answer for 'simple_python_7'",
    ):
        read_bfcl(folder)
    (folder / "possible_answer" / "BFCL_v4_parallel.json").unlink()
    with pytest.raises(InputError, match=r"possible_answer/BFCL_v4_parallel\.json: no such file"):
        read_bfcl(folder)


def test_each_problem_with_a_result_file_names_it(tmp_path: Path) -> None:
    results = tmp_path / "result.json"
    with pytest.raises(InputError, match=r"result\.json: no such file"):
        read_answers(results)
    results.write_text('{"id": "simple_python_0", "result": []}\nnope\n')
    with pytest.raises(InputError, match=r"result\.json line 2: not JSON"):
        read_answers(results)
    results.write_text('{"id": "simple_python_0"}\n')
    with pytest.raises(InputError, match=r"result\.json line 1: lacks 'result'"):
        read_answers(results)
    results.write_text('{"id": "simple_python_0", "result": [{"getWeather": 5}]}\n')
    with pytest.raises(
        InputError, match=r"result\.json line 1: the arguments of getWeather are not a JSON object"
    ):
        read_answers(results)
