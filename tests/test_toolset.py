"""Toolset construction: documentation models, the OpenAPI compiler and `build_tool` with a scripted LLM."""

from __future__ import annotations

import json

import litellm
import pytest
from openapi_spec_validator import validate
from pydantic import ValidationError

from agents.llm.gateway import LLMCallError, LLMGateway
from bench import responders
from schemas import spec as spec_reading
from schemas.seed import Seed
from schemas.tool import FunctionCatalog, FunctionDoc, RejectedTool, Tool
from tasks import openapi
from tasks.toolset import ToolsetSettings, build_tool
from tests.support.fake_llm import ScriptedLLM

SEED = Seed(
    seed_id="cat-facts",
    name="Cat Facts",
    description="Daily cat facts",
    category="Animals",
    link="https://catfact.ninja/docs?x=1",
    source="test",
)


def catalog() -> FunctionCatalog:
    request = {"messages": [{"role": "user", "content": "Name: Cat Facts\n"}]}
    return FunctionCatalog.model_validate(responders.function_catalog(request))


def function(**changes) -> dict:
    base = catalog().functions[1].model_dump()
    base.update(changes)
    return base


def test_compiled_spec_is_valid_openapi_with_operation_ids_and_servers():
    functions = catalog().functions
    spec = openapi.compile_openapi(SEED, "An introduction.", functions)
    validate(spec)
    assert openapi.spec_problems(spec) == []
    assert spec["servers"] == [{"url": "https://catfact.ninja"}]
    operation_ids = {op.operation["operationId"] for op in spec_reading.operations(spec)}
    assert operation_ids == {f.name for f in functions}
    get_record = spec["paths"]["/records/{recordId}"]["get"]
    assert get_record["parameters"][0] == {
        "name": "recordId",
        "in": "path",
        "required": True,
        "description": "Id of the record",
        "schema": {"type": "string"},
    }
    assert set(get_record["responses"]) == {"200", "404"}
    search = spec["paths"]["/records"]["get"]["parameters"]
    assert search[1]["schema"] == {"type": "integer", "default": 10}


def test_request_bodies_enums_arrays_and_objects_compile_to_valid_specs():
    doc = FunctionDoc.model_validate(
        {
            "name": "createOrder",
            "description": "Creates an order for a product.",
            "method": "POST",
            "path": "/orders",
            "parameters": [
                {
                    "name": "size",
                    "location": "body",
                    "type": "string",
                    "description": "Size",
                    "required": True,
                    "enum": ["S", "M"],
                },
                {
                    "name": "quantity",
                    "location": "body",
                    "type": "integer",
                    "description": "How many",
                    "enum": ["1", "2"],
                    "default": "1",
                },
                {
                    "name": "tags",
                    "location": "body",
                    "type": "array",
                    "items_type": "string",
                    "description": "Labels",
                },
                {"name": "meta", "location": "body", "type": "object", "description": "Extra data"},
            ],
            "response_description": "The order",
            "response_fields": [
                {"name": "orderId", "type": "string"},
                {"name": "lines", "type": "array", "items_type": "integer"},
            ],
            "errors": [{"status": 422, "description": "Unknown size"}],
        }
    )
    spec = openapi.compile_openapi(SEED, "Intro.", [doc])
    validate(spec)
    body = spec["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["size"]
    assert body["properties"]["quantity"]["enum"] == [1, 2] and body["properties"]["quantity"]["default"] == 1
    assert body["properties"]["tags"]["items"] == {"type": "string"}
    text = spec_reading.nl_documentation(spec)
    assert (
        "createOrder: Creates an order" in text
        and '"size": "String. Size. One of: \\"S\\", \\"M\\". Required."' in text
    )
    assert "Structure: Object{orderId: string, lines: Array[integer]}" in text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"path": "/records/{id}"}, "must match"),
        ({"path": "/records"}, "must match"),
        (
            {
                "method": "GET",
                "parameters": [{"name": "q", "location": "body", "description": "Query"}],
                "path": "/records",
            },
            "no body parameters",
        ),
        (
            {"parameters": [{"name": "ids", "type": "array", "description": "Ids"}], "path": "/r"},
            "items_type",
        ),
        (
            {
                "parameters": [{"name": "n", "type": "integer", "enum": ["x"], "description": "Number"}],
                "path": "/r",
            },
            "not a valid integer",
        ),
        ({"name": "get record"}, "pattern"),
        ({"response_fields": []}, "at least 1"),
    ],
)
def test_inconsistent_documentation_is_refused_with_a_reason(changes, message):
    with pytest.raises(ValidationError, match=message):
        FunctionDoc.model_validate(function(**changes))


def test_catalog_refuses_duplicate_names_and_routes():
    one = function()
    with pytest.raises(ValidationError, match="distinct"):
        FunctionCatalog.model_validate({"functions": [one, one]})
    with pytest.raises(ValidationError, match="same method and path"):
        FunctionCatalog.model_validate({"functions": [one, {**one, "name": "other"}]})


def test_routes_and_nl_documentation_come_from_the_spec():
    spec = openapi.compile_openapi(SEED, "Intro.", catalog().functions)
    assert [r.model_dump() for r in spec_reading.routes(spec)] == [
        {"name": "searchCatFacts", "method": "GET", "path": "/records"},
        {"name": "getCatFactsRecord", "method": "GET", "path": "/records/{recordId}"},
    ]
    text = spec_reading.nl_documentation(spec)
    assert text.count("Parameters:") == 2 and "Errors: 404: No record has that id" in text


def test_non_textual_media_is_detected():
    spec = openapi.compile_openapi(
        SEED, "Intro.", [FunctionDoc.model_validate(function(response_media_type="image/png"))]
    )
    assert spec_reading.non_textual_media(spec) == ["getCatFactsRecord answers 200 with image/png"]


def test_server_url_falls_back_without_a_link():
    assert openapi.server_url("") == "/"
    assert openapi.server_url("http://x.org:8080/a") == "http://x.org:8080"


# -- build_tool through the gateway ------------------------------------------------------------


def test_build_tool_produces_a_valid_tool(scripted_llm: ScriptedLLM, llm_config):
    scripted_llm.script = responders.toolforge
    tool = build_tool(SEED, LLMGateway(llm_config))
    assert isinstance(tool, Tool)
    validate(json.loads(tool.openapi))
    assert tool.tool_id == "cat-facts" and len(tool.functions) == 2 and tool.model == "scripted/test"
    assert "searchCatFacts" in tool.nl_documentation
    assert scripted_llm.calls == 2  # introduction, then function documentation


def test_build_tool_limits_functions_by_settings(scripted_llm: ScriptedLLM, llm_config):
    scripted_llm.script = responders.toolforge
    result = build_tool(SEED, LLMGateway(llm_config), ToolsetSettings(max_functions=1))
    assert isinstance(result, RejectedTool) and (result.step, result.rule) == ("toolset", "functions")
    assert "at most 1 functions" in result.reason


def test_unusable_documentation_rejects_the_tool_with_rule_and_reason(scripted_llm: ScriptedLLM, llm_config):
    def script(request):
        if responders.schema_name(request) == "FunctionCatalog":
            return '{"functions": []}'
        return responders.toolforge(request)

    scripted_llm.script = script
    result = build_tool(SEED, LLMGateway(llm_config))
    assert isinstance(result, RejectedTool)
    assert result.rule == "functions" and "functions" in result.reason and "at least 1" in result.reason


def test_binary_tools_are_dropped_with_the_media_reason(scripted_llm: ScriptedLLM, llm_config):
    def script(request):
        answer = json.loads(responders.toolforge(request))
        if responders.schema_name(request) == "FunctionCatalog":
            answer["functions"][1]["response_media_type"] = "image/jpeg"
        return json.dumps(answer)

    scripted_llm.script = script
    result = build_tool(SEED, LLMGateway(llm_config))
    assert isinstance(result, RejectedTool) and result.rule == "media"
    assert "image/jpeg" in result.reason


@pytest.mark.parametrize(
    "error",
    [
        litellm.BadRequestError("context too long", "test", "scripted"),
        litellm.RateLimitError("slow down", "scripted", "test"),
    ],
)
def test_failed_llm_calls_propagate_instead_of_becoming_a_cached_rejection(scripted_llm, llm_config, error):
    def script(request):
        raise error

    scripted_llm.script = script
    with pytest.raises(LLMCallError) as info:
        build_tool(SEED, LLMGateway(llm_config))
    assert info.value.transient == isinstance(error, litellm.RateLimitError)
