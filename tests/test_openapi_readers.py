"""Reading OpenAPI 3 specs written elsewhere (ToolAlpaca's published toolsets, say), not by our compiler.

Every reader the agents use (functions and routes, NL documentation, media checks, the assistant's and
the executor's decoding schemas, the executor's call and response checks) must read any valid
OpenAPI 3.0 spec without crashing: `operationId` is optional, media types come in several JSON
spellings, parameters and responses may be `$ref`s or shared by a whole path.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from agents.assistant.moves import Moves
from agents.assistant.moves import decoding_schema as assistant_decoding_schema
from agents.executor.decoding import decoding_schema as executor_decoding_schema
from schemas import calls
from schemas import spec as spec_reading
from schemas.simulation import ExecutorAnswer
from tasks.openapi import spec_problems

HOLIDAY = {
    "type": "object",
    "properties": {"date": {"type": "string", "format": "date"}, "name": {"type": "string"}},
}
HOLIDAYS = {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Holiday"}}}

# No operationId anywhere (optional in OpenAPI 3); the success answer offered as text/plain first, then
# as application/json and text/json (as ASP.NET APIs publish it); a path-level parameter shared by
# the path's operations; a parameter and a response by $ref; a 204 with no content; a `default` error.
SPEC: dict[str, Any] = {
    "openapi": "3.0.1",
    "info": {"title": "Holidays", "version": "v3"},
    "servers": [{"url": "https://date.example.org/"}],
    "paths": {
        "/api/v3/PublicHolidays/{year}/{countryCode}": {
            "parameters": [{"$ref": "#/components/parameters/CountryCode"}],
            "get": {
                "summary": "Get public holidays",
                "parameters": [
                    {"name": "year", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {
                    "200": {
                        "description": "Public holidays",
                        "content": {
                            "text/plain": HOLIDAYS,
                            "application/json": HOLIDAYS,
                            "text/json": HOLIDAYS,
                        },
                    },
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
        },
        "/api/v3/IsTodayPublicHoliday/{countryCode}": {
            "get": {
                "description": "Whether today is a public holiday.",
                "parameters": [
                    {"$ref": "#/components/parameters/CountryCode"},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "default": 0}},
                ],
                "responses": {
                    "200": {"description": "Today is a public holiday"},
                    "204": {"description": "Today is not a public holiday"},
                },
            }
        },
        "/api/v3/Version": {
            "get": {
                "summary": "Version of the library",
                "responses": {
                    "default": {
                        "description": "The version",
                        "content": {
                            "text/json; charset=utf-8": {
                                "schema": {"type": "object", "properties": {"version": {"type": "string"}}}
                            }
                        },
                    }
                },
            }
        },
        "/api/v3/Feedback": {
            "post": {
                "summary": "Send feedback",
                "requestBody": {
                    "content": {
                        "application/problem+json": {
                            "schema": {
                                "type": "object",
                                "properties": {"text": {"type": "string"}},
                                "required": ["text"],
                            }
                        }
                    }
                },
                "responses": {"201": {"description": "Stored"}},
            }
        },
    },
    "components": {
        "schemas": {"Holiday": HOLIDAY},
        "parameters": {
            "CountryCode": {
                "name": "countryCode",
                "in": "path",
                "required": True,
                "description": "Two-letter country code",
                "schema": {"type": "string"},
            }
        },
        "responses": {"NotFound": {"description": "Unknown country code"}},
    },
}
NAMES = [
    "getApiV3PublicHolidaysByYearByCountryCode",
    "getApiV3IsTodayPublicHolidayByCountryCode",
    "getApiV3Version",
    "postApiV3Feedback",
]


def test_the_fixture_is_a_valid_openapi_3_spec():
    validate(copy.deepcopy(SPEC))
    assert spec_problems(SPEC) == []


def test_functions_without_operation_id_are_named_from_method_and_path():
    assert [op.name for op in spec_reading.operations(SPEC)] == NAMES
    assert [(r.name, r.method, r.path) for r in spec_reading.routes(SPEC)][:2] == [
        (NAMES[0], "GET", "/api/v3/PublicHolidays/{year}/{countryCode}"),
        (NAMES[1], "GET", "/api/v3/IsTodayPublicHoliday/{countryCode}"),
    ]
    assert spec_reading.derived_name("GET", "/pets/{petId}/toys") == "getPetsByPetIdToys"
    assert spec_reading.derived_name("delete", "/") == "delete"


def test_an_operation_id_wins_and_names_stay_unique():
    spec = copy.deepcopy(SPEC)
    spec["paths"]["/api/v3/Version"]["get"]["operationId"] = "versionGet"
    spec["paths"]["/api/v3/Feedback"]["post"]["operationId"] = NAMES[0]  # clashes with a derived name
    names = [op.name for op in spec_reading.operations(spec)]
    assert names == [NAMES[0], NAMES[1], "versionGet", f"{NAMES[0]}_2"]


@pytest.mark.parametrize(
    ("media", "json_like", "textual"),
    [
        ("application/json", True, True),
        ("text/json", True, True),
        ("Application/JSON; charset=utf-8", True, True),
        ("application/problem+json", True, True),
        ("application/vnd.api+json", True, True),
        ("text/plain", False, True),
        ("application/xml", False, True),
        ("application/atom+xml", False, True),
        ("*/*", False, True),
        ("image/png", False, False),
        ("application/octet-stream", False, False),
        ("application/pdf", False, False),
    ],
)
def test_media_types(media: str, json_like: bool, textual: bool):
    assert spec_reading.is_json_media(media) is json_like
    assert spec_reading.is_textual_media(media) is textual


def test_text_json_and_plus_json_are_textual_and_read_as_json():
    assert spec_reading.non_textual_media(SPEC) == []
    # the executor simulates the JSON form of the answer, not the text/plain one listed first
    schema = calls.response_schema(SPEC, NAMES[0], 200)
    assert schema == {
        "type": "object",
        "properties": {"content": {"type": "array", "items": HOLIDAY}},
        "required": ["content"],
    }
    assert calls.response_schema(SPEC, NAMES[2], 200) == {
        "type": "object",
        "properties": {"version": {"type": "string"}},
    }


def test_shared_and_referenced_parameters_are_inputs():
    first = spec_reading.operations(SPEC)[0].operation
    inputs = {i.name: i for i in spec_reading.function_inputs(SPEC, first)}
    assert set(inputs) == {"year", "countryCode"}
    assert inputs["countryCode"].required and inputs["countryCode"].schema == {"type": "string"}
    body = spec_reading.function_inputs(SPEC, spec_reading.operations(SPEC)[3].operation)
    assert [(i.name, i.location, i.required) for i in body] == [("text", "body", True)]


def test_nl_documentation_reads_every_function():
    text = spec_reading.nl_documentation(SPEC)
    blocks = text.split("\n\n")
    assert [b.split(":", 1)[0] for b in blocks] == NAMES
    assert "countryCode" in blocks[0] and "Two-letter country code" in blocks[0]
    assert " - Format: application/json" in blocks[0]  # the JSON form, not text/plain
    assert "404: Unknown country code" in blocks[0]
    assert " - Format: text/json; charset=utf-8" in blocks[2]


def test_the_agents_decoding_schemas_and_call_checks_work_on_it():
    branches = assistant_decoding_schema([SPEC], Moves())["anyOf"]
    assert [b["properties"]["action"]["const"] for b in branches] == [*NAMES, "getDetails", "finish"]
    # a success documented only as `default` is simulated as 200; 204 has an empty body
    assert calls.documented_statuses(SPEC, NAMES[2]) == [200]
    assert calls.documented_statuses(SPEC, NAMES[1]) == [200, 204]
    for name in NAMES:
        schema = executor_decoding_schema(SPEC, name)
        assert schema["properties"]["status_code"]["enum"]
    _, _, arguments, request = calls.check_call(SPEC, NAMES[0], {"year": "2024", "countryCode": "PT"})
    assert arguments == {"year": 2024, "countryCode": "PT"}
    assert request.path == "/api/v3/PublicHolidays/2024/PT"
    with pytest.raises(calls.CallError, match="missing required parameter 'countryCode'"):
        calls.check_call(SPEC, NAMES[1], {})
    calls.check_response(
        SPEC, NAMES[0], ExecutorAnswer(status_code=200, body={"content": [{"date": "2024-04-25"}]})
    )


def test_references_that_lead_nowhere_read_as_anything_instead_of_crashing():
    spec = copy.deepcopy(SPEC)
    get = spec["paths"]["/api/v3/PublicHolidays/{year}/{countryCode}"]["get"]
    get["responses"]["200"]["content"]["application/json"]["schema"] = {"$ref": "other.yaml#/Holiday"}
    get["parameters"].append({"$ref": "#/components/parameters/Missing"})
    assert spec_reading.function_inputs(spec, spec_reading.operations(spec)[0].operation)
    assert "Public holidays" in spec_reading.nl_documentation(spec)
    assert calls.response_schema(spec, NAMES[0], 200) == {}


def test_an_invalid_spec_is_reported_with_the_validator_reason():
    spec = json.loads(json.dumps(SPEC))
    spec["paths"]["api/no-leading-slash"] = spec["paths"].pop("/api/v3/Version")
    problems = spec_problems(spec)
    assert problems and "api/no-leading-slash" in problems[0]
    assert spec_problems({"openapi": "3.0.0"})  # not even a spec: reported, not raised
