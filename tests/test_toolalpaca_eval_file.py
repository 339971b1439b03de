"""Reading ToolAlpaca's evaluation file format (`tasks/evaluation/toolalpaca_file.py`): a small file
written here in the published shape (a spec without `operationId` named by `Function_Projection`, a
`getDetails` step, placeholders, a broken spec, misaligned lists) and every whole-file error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.errors import InputError
from schemas.evaluation import EvalSet
from schemas.simulation import ASK_USER
from schemas.spec import function_tools
from tasks.evaluation.toolalpaca_file import read_toolalpaca
from tasks.openapi import spec_problems

OK = {"200": {"description": "A joke.", "content": {"application/json": {"schema": {"type": "object"}}}}}
PLACEHOLDER_INPUT = '{"query": ${query from getDetails}}'


def jokes_spec() -> dict[str, Any]:
    """A real-API style spec: no operationId anywhere, one path parameter wrongly `required: false`."""
    category = {"name": "category", "in": "path", "required": False, "schema": {"type": "string"}}
    query = {"name": "query", "in": "query", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Jokes", "version": "1.0.0"},
        "servers": [{"url": "https://api.jokes.example"}],
        "paths": {
            "/jokes/random": {"get": {"summary": "A random joke", "responses": OK}},
            "/jokes/search": {"get": {"summary": "Search jokes", "parameters": [query], "responses": OK}},
            "/jokes/random/{category}": {
                "get": {"summary": "A joke of a category", "parameters": [category], "responses": OK}
            },
        },
    }


def axolotl_spec() -> dict[str, Any]:
    """A simulated-API style spec: operationIds, as ToolAlpaca's generated specs have."""
    return {
        "openapi": "3.0.0",
        "info": {"title": "Axolotl", "version": "1.0.0"},
        "servers": [{"url": "https://theaxolotlapi.netlify.app/"}],
        "paths": {"/facts": {"get": {"operationId": "getAxolotlFacts", "responses": OK}}},
    }


def entries() -> list[dict[str, Any]]:
    jokes = {
        "Name": "Joke Box",
        "Description": "Hand-curated jokes",
        "Category": "Entertainment",
        "Authentication": {},
        "external_tools": ["retrieval"],
        "Documentation": json.dumps(jokes_spec()),
        "NLDocumentation": "their rendering",
        "Function_Projection": {
            "jokes_random_get": ["/jokes/random", "get"],
            "jokes_search_get": ["/Jokes/Search", "GET"],  # matched case-insensitively
        },  # leaves /jokes/random/{category} out: it gets ToolAlpaca's own name
        "Instructions": [
            "Tell me a random joke.",
            "Find me a joke.",
            "A joke about music, please.",
            "Maybe a joke.",
            "An instruction without its golden answer.",
        ],
        "Golden_Answers": [
            [{"Action": "jokes_random_get", "Action_Input": "{}"}],
            [
                {"Action": ASK_USER, "Action_Input": '{"Question": "What should the joke be about?"}'},
                {"Action": "jokes_search_get", "Action_Input": PLACEHOLDER_INPUT},
            ],
            [{"Action": "jokes_random_category_get", "Action_Input": {"category": "music"}}],
            [{"Action": "[Optional]jokes_random_get", "Action_Input": "{}"}],
        ],
    }
    axolotl = {
        "Name": "Axolotl",
        "Description": "Axolotl facts",
        "Link": "https://theaxolotlapi.netlify.app/",
        "Category": "Animals",
        "Introduction": "The Axolotl API gives facts about axolotls.",
        "Documentation": json.dumps(axolotl_spec()),
        "Function_Projection": {"getAxolotlFacts": ["/facts", "get"]},
        "Instructions": ["Tell me an axolotl fact."],
        "Golden_Answers": [
            [{"Action": "getAxolotlFacts", "Action_Input": "{}"}],
            [{"Action": "getAxolotlFacts", "Action_Input": "{}"}],  # an answer without an instruction
        ],
    }
    no_responses = {"openapi": "3.0.0", "info": {"title": "B", "version": "1"}, "paths": {"/b": {"get": {}}}}
    broken = {
        "Name": "Broken API",
        "Documentation": json.dumps(no_responses),
        "Instructions": ["Use it.", "Use it again."],
        "Golden_Answers": [[{"Action": "get_b", "Action_Input": "{}"}]] * 2,
    }
    not_json = {
        "Name": "Joke Box",  # a repeated name: its id is numbered
        "Documentation": "{'openapi': 'single quotes'}",
        "Instructions": ["Anything."],
        "Golden_Answers": [[]],
    }
    return [jokes, axolotl, broken, not_json]


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "eval_real.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def eval_set(tmp_path: Path) -> EvalSet:
    return read_toolalpaca(write(tmp_path, entries()))


def test_tools_are_named_by_the_projection_and_validate(eval_set: EvalSet) -> None:
    assert set(eval_set.tools) == {"joke-box", "axolotl"}
    jokes = eval_set.tools["joke-box"]
    assert {(r.name, r.method, r.path) for r in jokes.routes} == {
        ("jokes_random_get", "GET", "/jokes/random"),
        ("jokes_search_get", "GET", "/jokes/search"),
        ("jokes_random_category_get", "GET", "/jokes/random/{category}"),
    }
    spec = json.loads(jokes.openapi)
    assert [t["function"]["name"] for t in function_tools(spec)] == [r.name for r in jokes.routes]
    assert spec_problems(spec) == []
    category = spec["paths"]["/jokes/random/{category}"]["get"]["parameters"][0]
    assert category["required"] is True  # repaired, as OpenAPI requires of a path parameter
    assert jokes.nl_documentation.startswith("jokes_random_get: A random joke")
    assert "jokes_search_get:" in jokes.nl_documentation
    assert (jokes.name, jokes.category, jokes.link) == (
        "Joke Box",
        "Entertainment",
        "https://api.jokes.example",
    )
    assert (jokes.introduction, jokes.auth, jokes.functions, jokes.model) == (
        "Hand-curated jokes",
        "",
        [],
        "toolalpaca",
    )

    axolotl = eval_set.tools["axolotl"]
    assert [r.name for r in axolotl.routes] == ["getAxolotlFacts"]
    assert axolotl.link == "https://theaxolotlapi.netlify.app/"
    assert axolotl.introduction == "The Axolotl API gives facts about axolotls."


def test_cases_and_golden_steps(eval_set: EvalSet) -> None:
    cases = {case.case_id: case for case in eval_set.cases}
    assert list(cases) == ["joke-box-1", "joke-box-2", "joke-box-3", "axolotl-1"]
    for case in eval_set.cases:
        assert (case.source, case.dialog_type, len(case.turns)) == ("toolalpaca", "single", 1)
    assert cases["joke-box-1"].tool_ids == ["joke-box"]
    assert cases["axolotl-1"].tool_ids == ["axolotl"]

    asked = cases["joke-box-2"]
    assert asked.turns[0].request == "Find me a joke."
    assert [(s.action, s.action_input) for s in asked.turns[0].steps] == [
        (ASK_USER, '{"Question": "What should the joke be about?"}'),
        ("jokes_search_get", PLACEHOLDER_INPUT),  # kept as written, placeholder and all
    ]
    assert [s.action for s in asked.golden_calls()] == ["jokes_search_get"]
    assert asked.golden_calls()[0].arguments() == {}  # not JSON: the placeholder is unquoted

    dumped = cases["joke-box-3"].turns[0].steps[0]
    assert dumped.action_input == '{"category": "music"}'
    assert dumped.arguments() == {"category": "music"}


def test_rejected_cases_say_why(eval_set: EvalSet) -> None:
    reasons = {r.item_id: r.reason for r in eval_set.rejected}
    assert set(reasons) == {
        "joke-box-4",
        "joke-box-5",
        "axolotl-2",
        "broken-api-1",
        "broken-api-2",
        "joke-box-2-1",
    }
    assert "'[Optional]jokes_random_get'" in reasons["joke-box-4"]
    assert "cannot be scored" in reasons["joke-box-4"]
    assert "instruction 5 has no golden answer" in reasons["joke-box-5"]
    assert "golden answer 2 has no instruction" in reasons["axolotl-2"]
    for case_id in ("broken-api-1", "broken-api-2"):
        assert reasons[case_id].startswith("tool 'Broken API': its spec fails OpenAPI validation")
        assert "responses" in reasons[case_id]
    assert reasons["joke-box-2-1"].startswith("tool 'Joke Box': its Documentation is not JSON")


def test_a_spec_without_operations_and_a_bad_projection_reject_the_tool(tmp_path: Path) -> None:
    empty = {"openapi": "3.0.0", "info": {"title": "E", "version": "1"}, "paths": {}}
    data = [
        {
            "Name": "Empty",
            "Documentation": json.dumps(empty),
            "Instructions": ["Hi."],
            "Golden_Answers": [[]],
        },
        {
            "Name": "Odd",
            "Documentation": json.dumps(axolotl_spec()),
            "Function_Projection": {"getAxolotlFacts": "/facts"},
            "Instructions": ["Hi."],
            "Golden_Answers": [[]],
        },
    ]
    eval_set = read_toolalpaca(write(tmp_path, data))
    assert eval_set.cases == [] and eval_set.tools == {}
    reasons = {r.item_id: r.reason for r in eval_set.rejected}
    assert reasons == {
        "empty-1": "tool 'Empty': its spec has no operations",
        "odd-1": "tool 'Odd': Function_Projection['getAxolotlFacts'] is not [path, method]: '/facts'",
    }


def valid_entry() -> dict[str, Any]:
    return entries()[1]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("not json", "not JSON (line 1"),
        ({"Name": "Axolotl"}, "is a JSON list of tools, not an object"),
        ([valid_entry(), "oops"], "entry 2 of 2 is a string, not an object"),
        ([{**valid_entry(), "Name": " "}], "entry 1 of 1 has no Name"),
        (
            [{k: v for k, v in valid_entry().items() if k != "Documentation"}],
            "entry 1 of 1 ('Axolotl') has no Documentation",
        ),
        ([{**valid_entry(), "Instructions": "one"}], "entry 1 of 1 ('Axolotl'): Instructions must be a list"),
        (
            [{k: v for k, v in valid_entry().items() if k != "Instructions"}],
            "Instructions must be a list of requests, found none",
        ),
        (
            [{**valid_entry(), "Golden_Answers": {}}],
            "entry 1 of 1 ('Axolotl'): Golden_Answers must be a list",
        ),
    ],
)
def test_whole_file_problems_raise_input_error(tmp_path: Path, data: Any, expected: str) -> None:
    path = tmp_path / "eval.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError) as raised:
        read_toolalpaca(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert expected in str(raised.value)


def test_a_missing_file_raises_input_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(InputError, match="no such file"):
        read_toolalpaca(path)
