"""The tool executor: call checks without the LLM, request building, answer validation and repair, memory."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft7Validator

from agents.executor import agent as executor_agent
from agents.executor.agent import ToolExecutor
from agents.executor.decoding import decoding_schema
from agents.llm.gateway import LLMGateway, StructuredOutputError, Tally
from bench.responders import executor_answer, function_catalog
from schemas.calls import (
    CallError,
    HttpRequest,
    check_call,
    check_response,
    documented_statuses,
    error_answer,
    plain_schema,
    response_schema,
)
from schemas.seed import Seed
from schemas.simulation import ExecutorAnswer
from schemas.spec import nl_documentation, routes
from schemas.tool import FunctionCatalog, FunctionDoc, Tool
from tasks import openapi
from tests.support.fake_llm import ScriptedLLM

SEED = Seed(
    seed_id="record-keeper",
    name="Record Keeper",
    description="Stores and searches records.",
    category="Open Data",
    link="https://api.records.example",
    source="test",
)

RICH_FUNCTIONS = [
    {
        "name": "listRecords",
        "description": "Lists records, newest first, with optional filters.",
        "method": "GET",
        "path": "/records",
        "parameters": [
            {"name": "limit", "type": "integer", "description": "Maximum number of records"},
            {"name": "minScore", "type": "number", "description": "Smallest score to include"},
            {"name": "archived", "type": "boolean", "description": "Include archived records"},
            {"name": "sort", "description": "Sort order", "enum": ["asc", "desc"], "default": "desc"},
            {"name": "page", "type": "integer", "description": "Page number", "enum": ["1", "2", "3"]},
            {"name": "ids", "type": "array", "items_type": "integer", "description": "Only these ids"},
        ],
        "response_description": "The records",
        "response_fields": [
            {"name": "records", "type": "array", "items_type": "string", "description": "Record ids"},
            {"name": "total", "type": "integer", "description": "Number of records"},
        ],
        "errors": [{"status": 400, "description": "A filter is invalid"}],
    },
    {
        "name": "getRecord",
        "description": "Returns one record by its id.",
        "method": "GET",
        "path": "/records/{recordId}",
        "parameters": [
            {"name": "recordId", "location": "path", "description": "Id of the record", "required": True}
        ],
        "response_description": "The record",
        "response_fields": [
            {"name": "id", "description": "Record id"},
            {"name": "title", "description": "Record title"},
            {"name": "score", "type": "number", "description": "Record score"},
        ],
        "errors": [{"status": 404, "description": "No record has that id"}],
    },
    {
        "name": "createRecord",
        "description": "Creates a record in a collection and returns its id.",
        "method": "POST",
        "path": "/collections/{collection}/records",
        "parameters": [
            {"name": "collection", "location": "path", "description": "Collection name"},
            {"name": "dryRun", "type": "boolean", "description": "Only validate the record"},
            {
                "name": "title",
                "location": "body",
                "description": "Title of the record",
                "required": True,
            },
            {"name": "rating", "location": "body", "type": "integer", "description": "Rating 1-5"},
            {
                "name": "tags",
                "location": "body",
                "type": "array",
                "items_type": "string",
                "description": "Tags of the record",
            },
            {
                "name": "kind",
                "location": "body",
                "description": "Kind of record",
                "enum": ["note", "event"],
            },
        ],
        "response_description": "The created record",
        "response_fields": [
            {"name": "id", "description": "Id of the new record"},
            {"name": "created", "type": "boolean", "description": "Whether it was stored"},
        ],
        "errors": [
            {"status": 400, "description": "The record is invalid"},
            {"status": 409, "description": "A record with that title exists"},
        ],
    },
    {
        "name": "exportRecords",
        "description": "Exports all records as CSV text.",
        "method": "GET",
        "path": "/export",
        "response_media_type": "text/csv",
        "response_description": "The records as CSV",
        "response_fields": [{"name": "csv", "description": "CSV text"}],
    },
]


def rich_spec() -> dict[str, Any]:
    functions = [FunctionDoc.model_validate(f) for f in RICH_FUNCTIONS]
    return openapi.compile_openapi(SEED, "A records API.", functions)


def sample_spec() -> dict[str, Any]:
    catalog = FunctionCatalog.model_validate(function_catalog({"messages": []}))
    return openapi.compile_openapi(SEED, "A records API.", catalog.functions)


def make_tool(spec: dict[str, Any]) -> Tool:
    functions = [FunctionDoc.model_validate(f) for f in RICH_FUNCTIONS]
    return Tool(
        tool_id="record-keeper",
        name="Record Keeper",
        category="Open Data",
        description="Stores and searches records.",
        link="https://api.records.example",
        auth="",
        introduction="Record Keeper stores records in collections and lets developers search them.",
        functions=functions,
        openapi=json.dumps(spec),
        nl_documentation=nl_documentation(spec),
        routes=routes(spec),
        model="test",
    )


@pytest.fixture
def spec() -> dict[str, Any]:
    return rich_spec()


@pytest.fixture
def executor(scripted_llm: ScriptedLLM, llm_config, spec) -> ToolExecutor:
    return ToolExecutor(make_tool(spec), LLMGateway(llm_config))


def answers(*contents: Any):
    """A script that gives the contents in order (dicts as JSON)."""
    queue = iter(contents)

    def script(request: dict[str, Any]) -> str:
        item = next(queue)
        return item if isinstance(item, str) else json.dumps(item)

    return script


def user_text(request: dict[str, Any]) -> str:
    return "\n".join(str(m["content"]) for m in request["messages"][1:])


# -- call checks: no LLM ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "action_input", "expected"),
    [
        ("deleteRecord", {}, ["unknown function 'deleteRecord'", "listRecords", "createRecord"]),
        ("getRecord", ["r1"], ["JSON object", "array"]),
        ("getRecord", "recordId=r1", ["JSON object", "recordId=r1"]),
        ("getRecord", '"r1"', ["JSON object", "string"]),
        ("getRecord", {"recordId": "r1", "verbose": True}, ["unknown parameter 'verbose'", "recordId"]),
        ("getRecord", {}, ["missing required parameter 'recordId'"]),
        ("getRecord", {"recordId": None}, ["missing required parameter 'recordId'"]),
        ("createRecord", {"collection": "c", "rating": 4}, ["missing required parameter 'title'"]),
        ("listRecords", {"limit": "five"}, ["'limit'", "integer", '"five"']),
        ("listRecords", {"limit": 2.5}, ["'limit'", "integer", "2.5"]),
        ("listRecords", {"limit": True}, ["'limit'", "integer", "true"]),
        ("listRecords", {"minScore": "high"}, ["'minScore'", "number", '"high"']),
        ("listRecords", {"archived": "yes"}, ["'archived'", "boolean", '"yes"']),
        ("listRecords", {"archived": 1}, ["'archived'", "boolean", "1"]),
        ("listRecords", {"ids": 5}, ["'ids'", "array", "5"]),
        ("listRecords", {"ids": ["a"]}, ["'ids[0]'", "integer", '"a"']),
        ("getRecord", {"recordId": {"id": 1}}, ["'recordId'", "string"]),
        ("listRecords", {"sort": "newest"}, ["'sort'", '"asc", "desc"', '"newest"']),
        ("listRecords", {"page": 7}, ["'page'", "1, 2, 3", "7"]),
        ("listRecords", {"page": "9"}, ["'page'", "1, 2, 3", "9"]),
        ("createRecord", {"collection": "c", "title": "t", "kind": "memo"}, ["'kind'", '"note", "event"']),
    ],
)
def test_bad_calls_are_refused_without_the_llm(executor, scripted_llm, function, action_input, expected):
    answer = executor.execute(function, action_input)
    assert answer.status_code == 400
    message = answer.body["error"]["message"]
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert answer.body["error"]["code"] == 400
    assert scripted_llm.calls == 0
    assert executor.history == []


def test_every_problem_of_a_call_is_named(spec):
    with pytest.raises(CallError) as caught:
        check_call(spec, "createRecord", {"title": 5.5, "colour": "red", "rating": "x"})
    message = str(caught.value)
    assert "unknown parameter 'colour'" in message
    assert "missing required parameter 'collection'" in message
    assert "'rating' must be an integer" in message
    # 5.5 -> "5.5" is a safe coercion to string: not a problem
    assert "'title'" not in message


@pytest.mark.parametrize(
    ("arguments", "coerced"),
    [
        ({"limit": "3"}, {"limit": 3}),
        ({"limit": 4.0}, {"limit": 4}),
        ({"minScore": "2.5"}, {"minScore": 2.5}),
        ({"minScore": 7}, {"minScore": 7}),
        ({"archived": "true"}, {"archived": True}),
        ({"archived": "False"}, {"archived": False}),
        ({"page": "2"}, {"page": 2}),
        ({"sort": "asc"}, {"sort": "asc"}),
        ({"ids": ["1", 2]}, {"ids": [1, 2]}),
        ({"ids": "[1, 2]"}, {"ids": [1, 2]}),
        ({"limit": None}, {}),
    ],
)
def test_safe_coercions(spec, arguments, coerced):
    _, _, got, _ = check_call(spec, "listRecords", arguments)
    assert got == coerced


def test_number_to_string_and_json_text_input(spec):
    path, method, arguments, request = check_call(spec, "getRecord", '{"recordId": 42}')
    assert (path, method) == ("/records/{recordId}", "GET")
    assert arguments == {"recordId": "42"}
    assert request.path == "/records/42"
    assert check_call(spec, "exportRecords", None)[2] == {}
    assert check_call(spec, "exportRecords", "  ")[2] == {}


def test_request_fills_and_quotes_the_path_and_splits_query_and_body(spec):
    path, method, arguments, request = check_call(
        spec,
        "createRecord",
        {"collection": "my notes/2024", "dryRun": "true", "title": "Trip to São Paulo", "tags": ["x"]},
    )
    assert (path, method) == ("/collections/{collection}/records", "POST")
    assert request == HttpRequest(
        method="POST",
        path="/collections/my%20notes%2F2024/records",
        query={"dryRun": True},
        body={"title": "Trip to São Paulo", "tags": ["x"]},
    )
    assert arguments["collection"] == "my notes/2024"
    assert request.describe() == (
        "POST /collections/my%20notes%2F2024/records?dryRun=true "
        '{"title": "Trip to São Paulo", "tags": ["x"]}'
    )


def test_get_request_has_no_body_and_describes_its_query(spec):
    _, _, _, request = check_call(spec, "listRecords", {"limit": 5, "sort": "asc", "ids": [1, 2]})
    assert request.body is None
    assert request.describe() == "GET /records?limit=5&sort=asc&ids=1&ids=2"
    _, _, _, request = check_call(spec, "getRecord", {"recordId": "abc"})
    assert request.describe() == "GET /records/abc"


def test_error_answer_shape():
    answer = error_answer("no such thing", 404)
    assert answer == ExecutorAnswer(
        status_code=404, body={"error": {"code": 404, "message": "no such thing"}}
    )
    assert error_answer("bad").status_code == 400


# -- response checks ----------------------------------------------------------------------------


def test_documented_statuses_and_schemas(spec):
    assert documented_statuses(spec, "createRecord") == [200, 400, 409]
    assert documented_statuses(spec, "exportRecords") == [200]
    ok = response_schema(spec, "getRecord", 200)
    assert ok is not None and ok["required"] == ["id", "title", "score"]
    error = response_schema(spec, "getRecord", 404)
    assert error is not None and "$ref" not in json.dumps(error) and "error" in error["properties"]
    assert response_schema(spec, "getRecord", 500) is None
    text = response_schema(spec, "exportRecords", 200)
    assert text is not None and text["properties"]["content"]["type"] == "string"


def test_check_response_accepts_conforming_answers(spec):
    check_response(
        spec, "getRecord", ExecutorAnswer(status_code=200, body={"id": "r1", "title": "T", "score": 4})
    )
    check_response(spec, "getRecord", error_answer("No record has the id r9", 404))
    check_response(spec, "exportRecords", ExecutorAnswer(status_code=200, body={"content": "id,title\n1,A"}))


def test_check_response_names_the_problems_with_paths(spec):
    body = {"records": ["a", 3], "total": "two"}
    with pytest.raises(ValueError) as caught:
        check_response(spec, "listRecords", ExecutorAnswer(status_code=200, body=body))
    message = str(caught.value)
    assert "body.records[1]: 3 is not of type 'string'" in message
    assert "body.total: 'two' is not of type 'integer'" in message
    with pytest.raises(ValueError, match="'title' is a required property"):
        check_response(spec, "getRecord", ExecutorAnswer(status_code=200, body={"id": "r1", "score": 1}))
    with pytest.raises(ValueError, match=r"status_code 500 is not documented for getRecord.*200, 404"):
        check_response(spec, "getRecord", error_answer("boom", 500))
    with pytest.raises(ValueError, match=r"body\.error\.code"):
        check_response(
            spec, "getRecord", ExecutorAnswer(status_code=404, body={"error": {"code": "x", "message": "m"}})
        )


def test_check_response_lists_at_most_five_problems(spec):
    schema_fields = {f"f{i}": {"type": "integer"} for i in range(8)}
    spec["paths"]["/records"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "object",
        "properties": schema_fields,
    }
    body = {f"f{i}": "x" for i in range(8)}
    with pytest.raises(ValueError) as caught:
        check_response(spec, "listRecords", ExecutorAnswer(status_code=200, body=body))
    message = str(caught.value)
    assert message.count("is not of type 'integer'") == 5 and "... and 3 more" in message


def test_decoding_schema_lists_documented_statuses_and_is_plain_json_schema(spec):
    schema = decoding_schema(spec, "createRecord")
    Draft7Validator.check_schema(schema)
    assert schema["properties"]["status_code"] == {"enum": [200, 400, 409]}
    bodies = schema["properties"]["body"]["anyOf"]
    assert len(bodies) == 2  # the success body, and the one Error body shared by 400 and 409
    assert bodies[0]["required"] == ["id", "created"]
    text = json.dumps(schema)
    for keyword in ("$ref", "nullable", "example", "description"):
        assert keyword not in text
    validator = Draft7Validator(schema)
    assert validator.is_valid({"status_code": 200, "body": {"id": "r1", "created": True}})
    assert validator.is_valid({"status_code": 409, "body": {"error": {"code": 409, "message": "exists"}}})
    assert not validator.is_valid({"status_code": 500, "body": {"error": {"code": 500, "message": "x"}}})
    for function in ("listRecords", "getRecord", "exportRecords"):
        Draft7Validator.check_schema(decoding_schema(spec, function))


def test_plain_schema_turns_openapi_keywords_into_json_schema():
    schema = {
        "type": "object",
        "properties": {
            "note": {"type": "string", "nullable": True, "example": "hi", "x-tag": 1},
            "size": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
            "kind": {"type": "string", "enum": ["a", "b"], "nullable": True},
            "description": {"type": "string", "description": "a property named like a keyword"},
        },
    }
    plain = plain_schema(schema)
    Draft7Validator.check_schema(plain)
    assert plain["properties"]["note"] == {"type": ["string", "null"]}
    assert plain["properties"]["size"] == {"type": "integer", "exclusiveMinimum": 0}
    assert plain["properties"]["kind"] == {"type": ["string", "null"], "enum": ["a", "b", None]}
    assert plain["properties"]["description"] == {"type": "string"}


def test_bench_responder_answers_are_valid(spec):
    """The fake server's executor answers (first status, first body) pass the executor's checks."""
    for function in ("listRecords", "getRecord", "createRecord", "exportRecords"):
        request = {
            "messages": [],
            "response_format": {"type": "json_object", "schema": decoding_schema(spec, function)},
        }
        check_response(spec, function, ExecutorAnswer.model_validate(executor_answer(request)))


# -- the LLM role -------------------------------------------------------------------------------

RECORD = {"id": "rec-7f3a", "title": "Lisbon trip", "score": 4.5}


def test_valid_answer_is_returned_and_remembered(executor, scripted_llm):
    scripted_llm.script = answers({"status_code": 200, "body": RECORD})
    tally = Tally()
    answer = executor.execute("getRecord", {"recordId": "rec-7f3a"}, tally=tally)
    assert answer == ExecutorAnswer(status_code=200, body=RECORD)
    assert scripted_llm.calls == 1 and tally.calls == 1
    request = scripted_llm.requests[0]
    fmt = request["response_format"]
    assert fmt["json_schema"]["name"] == "ExecutorAnswer"
    assert fmt["json_schema"]["schema"] == decoding_schema(executor.spec, "getRecord")
    system, user = request["messages"][0]["content"], user_text(request)
    assert "simulate" in system and "Record Keeper" in user
    assert "GET /records/rec-7f3a" in user
    assert "getRecord: Returns one record by its id." in user
    assert "listRecords" not in user  # only the called function's documentation
    assert "404:" in user and "200:" in user
    assert "(none yet)" in user
    [(http, remembered)] = executor.history
    assert http.path == "/records/rec-7f3a" and remembered == answer


def test_prompt_template_has_its_sections_and_key():
    prompt = executor_agent.respond_prompt()
    assert prompt.key.startswith("respond@")
    assert "$request" in prompt.user and "$history" in prompt.user
    assert executor_agent.ROLE == "executor" and executor_agent.STAGE == "simulation"


@pytest.mark.parametrize(
    ("invalid", "problem"),
    [
        ({"status_code": 200, "body": {"id": "rec-1", "title": "T", "score": "high"}}, "body.score"),
        ({"status_code": 200, "body": {"id": "rec-1", "score": 3}}, "'title' is a required property"),
        ({"status_code": 503, "body": {"error": {"code": 503, "message": "down"}}}, "503 is not documented"),
        ("I think the record exists.", "no JSON object"),
    ],
)
def test_invalid_answer_is_repaired(executor, scripted_llm, invalid, problem):
    scripted_llm.script = answers(invalid, {"status_code": 200, "body": RECORD})
    answer = executor.execute("getRecord", {"recordId": "rec-1"})
    assert answer == ExecutorAnswer(status_code=200, body=RECORD)
    assert scripted_llm.calls == 2
    repair = scripted_llm.requests[1]["messages"][-1]["content"]
    assert "not valid" in repair and problem in repair
    assert len(executor.history) == 1


def test_repairs_exhausted_raise(executor, scripted_llm, llm_config):
    bad = {"status_code": 200, "body": {"id": "rec-1"}}
    scripted_llm.script = answers(*[bad] * (llm_config.repair_attempts + 1))
    with pytest.raises(StructuredOutputError, match="'title' is a required property"):
        executor.execute("getRecord", {"recordId": "rec-1"})
    assert scripted_llm.calls == llm_config.repair_attempts + 1
    assert executor.history == []


def test_memory_carries_earlier_answers_into_the_next_prompt(executor, scripted_llm):
    scripted_llm.script = answers(
        {"status_code": 200, "body": {"id": "rec-9b21", "created": True}},
        {"status_code": 200, "body": {"id": "rec-9b21", "title": "Concert", "score": 5}},
    )
    first = executor.execute("createRecord", {"collection": "events", "title": "Concert", "kind": "event"})
    assert first.body["id"] == "rec-9b21"
    executor.execute("getRecord", {"recordId": "rec-9b21"})
    second = user_text(scripted_llm.requests[1])
    assert '1. POST /collections/events/records {"title": "Concert", "kind": "event"}' in second
    assert '-> 200 {"id":"rec-9b21","created":true}' in second
    assert "(none yet)" not in second
    assert [h.method for h, _ in executor.history] == ["POST", "GET"]


def test_refused_calls_are_not_remembered_between_simulated_ones(executor, scripted_llm):
    scripted_llm.script = answers({"status_code": 200, "body": {"records": ["rec-1"], "total": 1}})
    assert executor.execute("listRecords", {"sort": "sideways"}).status_code == 400
    assert executor.execute("listRecords", {"sort": "desc"}).body["total"] == 1
    assert scripted_llm.calls == 1 and len(executor.history) == 1


def test_executor_on_the_sample_catalog(scripted_llm, llm_config):
    spec = sample_spec()
    tool = make_tool(spec)
    names = [r.name for r in tool.routes]
    scripted_llm.script = answers({"status_code": 400, "body": {"error": {"code": 400, "message": "empty"}}})
    executor = ToolExecutor(tool, LLMGateway(llm_config))
    answer = executor.execute(names[0], {"query": "  ", "limit": "2"})
    assert answer.status_code == 400
    assert "GET /records?query=%20%20&limit=2" in user_text(scripted_llm.requests[0])
