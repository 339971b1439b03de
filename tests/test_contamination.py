"""Test sets as `--decontaminate` reads them (`tasks.contamination`): a folder of JSON Lines files, a
ToolAlpaca evaluation file, BFCL's package data; each bad source an InputError naming it; and the
index that names the test question a request near-duplicates."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from flows.cli import parse_config
from flows.config import CorpusConfig, SeedSelection, VerificationSettings
from schemas.errors import InputError
from tasks.contamination import HeldOutQuestion, TestSetIndex, read_test_set
from tasks.evaluation.toolalpaca_file import read_toolalpaca
from tests.support.packages import needs_bfcl

TRIANGLE = "Find the area of a triangle with a base of 10 units and height of 5 units."
"""BFCL's simple_python_0."""
FACTORIAL = "Calculate the factorial of the number 5 using the math functions."


def write_lines(path: Path, rows: list[object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def bfcl_row(item_id: str, *turns: str) -> dict[str, object]:
    return {"id": item_id, "question": [[{"role": "user", "content": t}] for t in turns], "function": []}


def toolalpaca_file(path: Path) -> Path:
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "Jokes", "version": "1.0"},
        "servers": [{"url": "https://jokes.example.org"}],
        "paths": {
            "/jokes/random": {
                "get": {"operationId": "randomJoke", "responses": {"200": {"description": "A joke."}}}
            }
        },
    }
    entry = {
        "Name": "Jokes",
        "Description": "Random jokes",
        "Category": "Entertainment",
        "Documentation": json.dumps(spec),
        "Instructions": ["Tell me a random joke about programmers please", "Give me two jokes"],
        "Golden_Answers": [[{"Action": "randomJoke", "Action_Input": "{}"}]] * 2,
    }
    path.write_text(json.dumps([entry]), encoding="utf-8")
    return path


def test_a_folder_of_json_lines_gives_each_rows_text_and_id(tmp_path):
    folder = tmp_path / "tests"
    write_lines(
        folder / "a.jsonl", [{"id": "q1", "question": FACTORIAL}, {"instruction": "Book a flight to Rome"}]
    )
    write_lines(folder / "b.jsonl", [{"id": "t9", "text": "Convert 3 miles to kilometres", "question": 7}])
    write_lines(
        folder / "BFCL_v4_simple_python.json", [bfcl_row("simple_python_0", TRIANGLE, "And a square?")]
    )
    (folder / "notes.txt").write_text("not read", encoding="utf-8")
    questions = read_test_set(str(folder))
    assert [(q.item_id, q.text) for q in questions] == [
        ("simple_python_0", TRIANGLE),
        ("simple_python_0/2", "And a square?"),  # every user turn of BFCL's question
        ("q1", FACTORIAL),
        ("a.jsonl:2", "Book a flight to Rome"),  # no id: the file and line
        ("t9", "Convert 3 miles to kilometres"),  # `question` is not text here: the next field
    ]
    assert {q.source for q in questions} == {str(folder)}


def test_a_toolalpaca_file_gives_its_cases_requests(tmp_path):
    questions = read_test_set(str(toolalpaca_file(tmp_path / "eval_real.json")))
    assert [(q.item_id, q.text) for q in questions] == [
        ("jokes-1", "Tell me a random joke about programmers please"),
        ("jokes-2", "Give me two jokes"),
    ]


def test_a_toolalpaca_tool_whose_spec_the_evaluation_leaves_out_still_gives_its_requests(tmp_path):
    path = toolalpaca_file(tmp_path / "eval_real.json")
    entries = json.loads(path.read_text(encoding="utf-8"))
    entries[0]["Documentation"] = "not a spec"
    path.write_text(json.dumps(entries), encoding="utf-8")
    assert read_toolalpaca(path).cases == []  # the evaluation cannot use the tool
    questions = read_test_set(str(path))
    assert [q.item_id for q in questions] == ["jokes-1", "jokes-2"]  # the test set's questions still count


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.json", "no such file or folder"),
        (lambda tmp: tmp, "no JSON Lines file"),
        (
            lambda tmp: write_lines(tmp / "t" / "a.jsonl", ["{broken"]).parent,
            "a.jsonl line 1: no question text",
        ),
        (lambda tmp: _written(tmp / "t" / "a.jsonl", "{broken\n").parent, "a.jsonl line 1: not JSON"),
        (
            lambda tmp: write_lines(tmp / "t" / "a.jsonl", [{"id": "x", "answer": 3}]).parent,
            "no question text",
        ),
        (lambda tmp: _written(tmp / "t" / "a.jsonl", "\n\n").parent, "holds no question"),
        (lambda tmp: _written(tmp / "eval.json", "{}"), "eval.json"),
        (lambda tmp: _written(tmp / "eval.json", "[]"), "holds no question"),
    ],
)
def test_a_source_that_cannot_be_read_is_an_input_error_naming_it(tmp_path, make, message):
    with pytest.raises(InputError, match=message) as raised:
        read_test_set(str(make(tmp_path)))
    assert "\n" not in str(raised.value)


def _written(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_bfcl_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "bfcl_eval", None)  # an import of it fails, as when not installed
    with pytest.raises(InputError, match=r"need the bfcl-eval package .*make bfcl"):
        read_test_set("bfcl:simple_python")


@pytest.mark.parametrize("source", ["bfcl:", "bfcl:simple_python,no_such_category"])
def test_bfcl_names_only_its_categories(source):
    unknown = r"^--decontaminate bfcl:.*'(|no_such_category)' is not a BFCL category this evaluates"
    with pytest.raises(InputError, match=unknown + r"; give simple_python, .* or ast"):
        read_test_set(source)


@needs_bfcl
def test_bfcl_categories_are_read_from_the_installed_package():
    questions = read_test_set("bfcl:simple_python,irrelevance")
    first = HeldOutQuestion(source="bfcl:simple_python,irrelevance", item_id="simple_python_0", text=TRIANGLE)
    assert questions[0] == first
    assert {q.item_id.split("_")[0] for q in questions} == {"simple", "irrelevance"}
    planted = "Please find the area of a triangle with a base of 10 units and height of 5 units"
    found = TestSetIndex(questions, threshold=0.7).match(planted)
    assert found is not None and found[0].name == "bfcl:simple_python,irrelevance simple_python_0"


def test_the_index_names_the_question_a_request_near_duplicates(tmp_path):
    folder = tmp_path / "tests"
    write_lines(folder / "BFCL_v4_simple_python.json", [bfcl_row("simple_python_0", TRIANGLE)])
    write_lines(folder / "more.jsonl", [{"id": "f", "question": FACTORIAL}])
    index = TestSetIndex.of_sources([str(folder), str(folder)], threshold=0.7)  # a source named twice: once
    found = index.match("Please find the area of a triangle with a base of 10 units and height of 5 units")
    assert found is not None and found[0].name == f"{folder} simple_python_0" and 0.9 < found[1] < 1
    assert index.match("Find the area of a circle of radius 4 in a park with a lake") is None
    assert index.match("") is None
    assert index.described() == f"{folder} (2 questions)"


def test_decontaminate_is_repeated_whole_and_needs_the_instructions_stage():
    config = parse_config(["--decontaminate", "bfcl:simple_python,multiple", "--decontaminate", "x.json"])
    assert config.verification.decontaminate == ["bfcl:simple_python,multiple", "x.json"]
    assert config.verification.decontaminate_threshold == 0.7
    with pytest.raises(ValueError, match="keep the instructions stage"):
        CorpusConfig(
            seeds=SeedSelection(source="s.md"),
            stages=["simulation"],
            from_run="latest",
            verification=VerificationSettings(decontaminate=["x.json"]),
        )


def test_bfcls_questions_are_loaded_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's input check and the run both read a `bfcl:` test set: BFCL's loader runs once."""
    from tasks import contamination
    from tasks.evaluation import bfcl_official
    from tasks.evaluation.bfcl_set import BfclQuestion

    loads: list[list[str]] = []

    def load(names, limit, answers=True):
        loads.append(list(names))
        message = {"role": "user", "content": "What is the weather in Lisbon?"}
        asked = BfclQuestion(id="simple_python_0", category="simple_python", question=[message], functions=[])
        return [asked]

    monkeypatch.setattr(bfcl_official, "categories", lambda source, flag="--eval": ["simple_python"])
    monkeypatch.setattr(bfcl_official, "load_questions", load)
    contamination._bfcl_package_questions.cache_clear()
    try:
        first = read_test_set("bfcl:simple_python")
        second = read_test_set("bfcl:simple_python")
    finally:
        contamination._bfcl_package_questions.cache_clear()
    assert first == second and [q.text for q in first] == ["What is the weather in Lisbon?"]
    assert loads == [["simple_python"]]
