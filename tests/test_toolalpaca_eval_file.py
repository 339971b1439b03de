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
from tasks.evaluation.spec_repairs import repair_spec
from tasks.evaluation.toolalpaca_file import read_toolalpaca
from tasks.openapi import spec_problems

OK = {"200": {"description": "A joke.", "content": {"application/json": {"schema": {"type": "object"}}}}}
PLACEHOLDER_INPUT = '{"query": ${query from getDetails}}'


def api_spec(title: str, version: str, paths: dict[str, Any], **root: Any) -> dict[str, Any]:
    """An OpenAPI spec of `version` titled `title`, served at `https://<title>.example`."""
    info = {"title": title, "version": "1.0.0"}
    servers = [{"url": f"https://{title.lower()}.example"}]
    return {"openapi": version, "info": info, "servers": servers, "paths": paths, **root}


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


# --------------------------------------------------------------------------- specs repaired before validation

ERROR = {"type": "object", "properties": {"message": {"type": "string"}}}


def currency_spec() -> dict[str, Any]:
    """CurrencyBeacon's quirk: a Swagger-2 `schema` directly on a response, beside its description."""
    key = {"name": "api_key", "in": "query", "required": True, "schema": {"type": "string"}}
    base = {"name": "base", "in": "query", "required": True, "schema": {"type": "string"}}
    bare = {"200": {"schema": {"type": "string"}, "description": "Real-time rates."}}
    currencies = {"200": {"description": "Currencies.", "schema": {"type": "string"}}}
    paths = {
        "/latest": {"get": {"summary": "Latest rates", "parameters": [key, base], "responses": bare}},
        "/currencies": {"get": {"summary": "Currencies", "parameters": [key], "responses": currencies}},
    }
    return api_spec("Currency", "3.0.1", paths, components={"parameters": {"api_key": key}})


def facts_spec() -> dict[str, Any]:
    """Random Useless Facts' quirk: a root-level `parameters` object (Swagger 2's place for them)."""
    language = {"name": "language", "in": "query", "required": False, "schema": {"type": "string"}}
    today = {"summary": "Today's fact", "parameters": [{"$ref": "#/parameters/LanguageQueryParam"}]}
    paths = {
        "/api/v2/facts/random": {"get": {"summary": "A random fact", "responses": OK}},
        "/api/v2/facts/today": {"get": {**today, "responses": OK}},
    }
    headers = {"Accept": {"schema": {"type": "string"}}}
    return api_spec(
        "Facts", "3.0.0", paths, parameters={"LanguageQueryParam": language}, components={"headers": headers}
    )


def aviation_spec() -> dict[str, Any]:
    """AviationAPI's quirks: the path items after `/routes` nested inside it, and `components` inside
    `paths` (what one misplaced closing brace makes of a spec)."""

    def query(name: str) -> list[dict[str, Any]]:
        return [{"name": name, "in": "query", "required": True, "schema": {"type": "string"}}]

    error = {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}}
    metar = {**OK, "404": {"description": "Not found", "content": error}}
    routes = {
        "get": {"summary": "All preferred routes", "responses": OK},
        "/routes/search": {"get": {"summary": "Search", "parameters": query("origin"), "responses": OK}},
        "/weather/metar": {"get": {"summary": "The METAR", "parameters": query("apt"), "responses": metar}},
    }
    paths = {
        "/airports": {"get": {"summary": "An airport", "parameters": query("apt"), "responses": OK}},
        "/routes": routes,
        "components": {"schemas": {"error": ERROR}},
    }
    return api_spec("Aviation", "3.0.1", paths)


def repaired_entries() -> list[dict[str, Any]]:
    def entry(
        name: str, spec: dict[str, Any], projection: dict[str, Any], answers: list[Any]
    ) -> dict[str, Any]:
        return {
            "Name": name,
            "Documentation": json.dumps(spec),
            "Function_Projection": projection,
            "Instructions": [f"Request {n} of {name}." for n in range(1, len(answers) + 1)],
            "Golden_Answers": answers,
        }

    def step(action: str, arguments: str = "{}") -> list[dict[str, str]]:
        return [{"Action": action, "Action_Input": arguments}]

    return [
        entry(
            "CurrencyBeacon",
            currency_spec(),
            {"latest_get": ["/latest", "get"], "currencies_get": ["/currencies", "get"]},
            [
                step("latest_get", '{"api_key": "k", "base": "USD"}'),
                step("currencies_get", '{"api_key": "k"}'),
            ],
        ),
        entry(
            "Random Useless Facts",
            facts_spec(),
            {"api_v2_facts_random_get": ["/api/v2/facts/random", "get"]},
            [step("api_v2_facts_random_get"), step("api_v2_facts_today_get", '{"language": "de"}')],
        ),
        entry(
            "AviationAPI",
            aviation_spec(),
            {"airports_get": ["/airports", "get"], "routes_get": ["/routes", "get"]},  # projects 2 of 4
            [
                step("airports_get", '{"apt": "AVL"}'),
                step("routes_get"),
                step("routes_search_get", '{"origin": "ACK"}'),
                step("weather_metar_get", '{"apt": "KAVL"}') + step("airports_get", '{"apt": "ORD"}'),
            ],
        ),
    ]


def test_the_quirky_specs_fail_validation_as_published() -> None:
    for spec in (currency_spec(), facts_spec(), aviation_spec()):
        assert spec_problems(spec), spec["info"]["title"]


def test_quirky_specs_are_repaired_and_every_case_is_kept(tmp_path: Path) -> None:
    eval_set = read_toolalpaca(write(tmp_path, repaired_entries()))
    assert eval_set.rejected == []
    assert [c.case_id for c in eval_set.cases] == [
        "currencybeacon-1",
        "currencybeacon-2",
        "random-useless-facts-1",
        "random-useless-facts-2",
        "aviationapi-1",
        "aviationapi-2",
        "aviationapi-3",
        "aviationapi-4",
    ]
    for tool in eval_set.tools.values():
        assert spec_problems(json.loads(tool.openapi)) == [], tool.name

    currency = json.loads(eval_set.tools["currencybeacon"].openapi)
    latest = currency["paths"]["/latest"]["get"]["responses"]["200"]
    assert latest == {
        "description": "Real-time rates.",
        "content": {"application/json": {"schema": {"type": "string"}}},
    }

    facts = json.loads(eval_set.tools["random-useless-facts"].openapi)
    assert "parameters" not in facts and set(facts["components"]) == {"headers", "parameters"}
    today = next(op for op in function_tools(facts) if op["function"]["name"] == "api_v2_facts_today_get")
    assert list(today["function"]["parameters"]["properties"]) == ["language"]  # the moved ref resolves

    aviation = eval_set.tools["aviationapi"]
    assert {(r.name, r.path) for r in aviation.routes} == {
        ("airports_get", "/airports"),
        ("routes_get", "/routes"),
        ("routes_search_get", "/routes/search"),  # ToolAlpaca's names for the lifted operations
        ("weather_metar_get", "/weather/metar"),
    }
    spec = json.loads(aviation.openapi)
    assert "components" not in spec["paths"] and spec["components"] == {"schemas": {"error": ERROR}}
    assert set(spec["paths"]["/routes"]) == {"get"}

    assert eval_set.repairs == {
        "currencybeacon": ["put the bare Swagger-2 `schema` of 2 responses under `content`"],
        "random-useless-facts": ["moved root-level `parameters` (1) to `components.parameters`"],
        "aviationapi": [
            "moved `components` from inside `paths` to the spec's root",
            "lifted 2 path items nested inside `/routes` into `paths` (`/routes/search`, `/weather/metar`)",
        ],
    }


def test_a_spec_still_invalid_after_repairs_is_left_out_with_a_short_reason(tmp_path: Path) -> None:
    spec = aviation_spec()
    routes = spec["paths"]["/routes"]
    spec["paths"]["/routes/search"] = routes["/routes/search"]  # the nested copy cannot be lifted
    routes["/routes/search"] = {"get": {"summary": "x" * 5000, "responses": OK}, "extra": ["y" * 5000]}
    data = [{"Name": "Aviation Twice", "Documentation": json.dumps(spec), "Instructions": ["Hi.", "Bye."]}]
    eval_set = read_toolalpaca(write(tmp_path, data))
    assert eval_set.cases == [] and eval_set.repairs == {}
    reasons = [r.reason for r in eval_set.rejected]
    assert len(reasons) == 2 and len(reasons[0]) <= 400 and "\n" not in reasons[0]
    assert reasons[0].startswith("tool 'Aviation Twice': its spec fails OpenAPI validation (after repairs: ")
    assert "lifted 1 path items nested inside `/routes`" in reasons[0] and "x" * 200 not in reasons[0]


def test_repairs_follow_refs_and_media_types_and_leave_good_specs_alone() -> None:
    spec = facts_spec()
    spec["definitions"] = {"Fact": {"type": "object"}}
    spec["produces"] = ["text/plain"]
    spec["paths"]["/api/v2/facts/random"]["get"]["responses"] = {
        "200": {"description": "A fact.", "schema": {"$ref": "#/definitions/Fact"}}
    }
    fixed, notes = repair_spec(spec)
    assert fixed["paths"]["/api/v2/facts/random"]["get"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"$ref": "#/components/schemas/Fact"}}
    }
    assert fixed["components"]["schemas"] == {"Fact": {"type": "object"}}
    assert len(notes) == 3 and spec["parameters"]  # the given spec is not changed
    assert repair_spec(axolotl_spec()) == (axolotl_spec(), [])
