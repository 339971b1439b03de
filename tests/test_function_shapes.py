"""Richer function shapes: ranges, formats, object parameters and nested response fields, from the
function documentation through the OpenAPI spec, its readers, the decoding schemas, the executor's
call checks, the rule layer and Parquet; and the toolsmith's decoding schema left as it was."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from agents.assistant.moves import Moves
from agents.assistant.moves import decoding_schema as assistant_decoding_schema
from agents.executor.decoding import decoding_schema as executor_decoding_schema
from schemas.arrow import arrow_schema, from_table, to_table
from schemas.calls import CallError, check_call, check_response
from schemas.dialog import Dialog, Message, ToolCall
from schemas.grounding import allowed_values
from schemas.seed import Seed
from schemas.simulation import ExecutorAnswer
from schemas.spec import arguments_schema, function_tools, nl_documentation, operation_by_name, routes
from schemas.tool import FieldDoc, FunctionCatalog, FunctionDoc, ParameterDoc, PropertyDoc, Tool
from tasks import rules
from tasks.openapi import compile_openapi, spec_problems

CATALOG_SCHEMA_SHA256 = "a35eb87b46faec672df7aa1c12e13416dfced9eab7cb64c6fed93834820b102b"
"""sha256 of `json.dumps(FunctionCatalog.model_json_schema())` before the new fields: the toolsmith's
decoding schema (and its LLM cache key) must not move."""

SEED = Seed(
    seed_id="trips",
    name="Trips",
    description="Finds flights and books trips.",
    category="Travel",
    link="https://api.trips.example",
    source="test",
)
FUNCTIONS: list[dict[str, Any]] = [
    {
        "name": "searchFlights",
        "description": "Searches flights for a day, cheapest first.",
        "method": "GET",
        "path": "/flights",
        "parameters": [
            {
                "name": "passengers",
                "type": "integer",
                "description": "Number of passengers",
                "required": True,
                "minimum": 1,
                "maximum": 9,
            },
            {"name": "day", "description": "Day of departure", "required": True, "format": "date"},
            {"name": "budget", "type": "number", "description": "Highest price", "minimum": 0},
            {"name": "stops", "type": "integer", "description": "Most stops", "maximum": 3, "default": "1"},
            {
                "name": "filter",
                "type": "object",
                "description": "What the flights must offer",
                "properties": [
                    {"name": "airline", "description": "Airline code", "enum": ["LH", "AF"]},
                    {"name": "direct", "type": "boolean", "description": "Direct only", "required": True},
                ],
            },
            {
                "name": "via",
                "type": "array",
                "items_type": "object",
                "description": "Stopovers wanted",
                "properties": [{"name": "city", "description": "City name", "required": True}],
            },
        ],
        "response_description": "The flights found",
        "response_fields": [
            {
                "name": "flights",
                "type": "array",
                "items_type": "object",
                "description": "The flights",
                "fields": [
                    {"name": "code", "description": "Flight code"},
                    {"name": "price", "type": "number"},
                    {"name": "legs", "type": "array", "items_type": "string"},
                ],
            },
            {"name": "meta", "type": "object", "fields": [{"name": "total", "type": "integer"}]},
            {"name": "raw", "type": "object", "description": "The airline's own record"},
        ],
    },
    {
        "name": "bookTrip",
        "description": "Books a trip for travellers and returns its id.",
        "method": "POST",
        "path": "/trips",
        "parameters": [
            {
                "name": "travellers",
                "location": "body",
                "type": "array",
                "items_type": "object",
                "description": "Who travels",
                "required": True,
                "properties": [
                    {"name": "name", "description": "Full name", "required": True},
                    {"name": "age", "type": "integer", "description": "Age in years"},
                    {"name": "meals", "type": "array", "items_type": "string", "description": "Meal wishes"},
                ],
            },
            {"name": "contact", "location": "body", "description": "Email to confirm to", "format": "email"},
            {"name": "notes", "location": "body", "type": "object", "description": "Free-form notes"},
        ],
        "response_description": "The booking",
        "response_fields": [{"name": "tripId", "description": "Id of the trip"}],
    },
]


def functions() -> list[FunctionDoc]:
    return [FunctionDoc.model_validate(f) for f in FUNCTIONS]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return compile_openapi(SEED, "A travel API.", functions())


def make_tool(spec: dict[str, Any]) -> Tool:
    return Tool(
        tool_id=SEED.seed_id,
        name=SEED.name,
        category=SEED.category,
        description=SEED.description,
        link=SEED.link,
        auth="",
        introduction="A travel API.",
        functions=functions(),
        openapi=json.dumps(spec),
        nl_documentation=nl_documentation(spec),
        routes=routes(spec),
        model="test",
    )


# -- the toolsmith's decoding schema -------------------------------------------------------------------


def test_the_catalogs_decoding_schema_is_unchanged():
    schema = FunctionCatalog.model_json_schema()
    assert hashlib.sha256(json.dumps(schema).encode()).hexdigest() == CATALOG_SCHEMA_SHA256
    parameter = schema["$defs"]["ParameterDoc"]["properties"]
    assert {"minimum", "maximum", "format", "properties"}.isdisjoint(parameter)
    assert "fields" not in schema["$defs"]["FieldDoc"]["properties"]
    assert {"PropertyDoc", "SubFieldDoc"}.isdisjoint(schema["$defs"])
    shown = parameter["items_type"]["anyOf"][0]["enum"]
    assert shown == ["string", "integer", "number", "boolean"]


# -- the documentation's own checks --------------------------------------------------------------------


def parameter(**fields: Any) -> ParameterDoc:
    return ParameterDoc.model_validate({"name": "p", "description": "A parameter", **fields})


PROPS = [{"name": "a", "description": "First one"}]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"minimum": 1}, "minimum and maximum are for integers and numbers"),
        ({"type": "integer", "minimum": 5, "maximum": 1}, "minimum 5.0 is above maximum 1.0"),
        ({"type": "number", "maximum": float("inf")}, "finite number"),
        ({"type": "integer", "minimum": 1, "enum": ["0", "1"]}, "'0' is outside its range"),
        ({"type": "number", "maximum": 1, "default": "1.5"}, "'1.5' is outside its range"),
        ({"type": "integer", "format": "date"}, "a format is for strings"),
        ({"format": "date", "default": "tomorrow"}, "'tomorrow' is not a date"),
        ({"format": "unixtime"}, "format"),
        ({"properties": PROPS}, "only an object or an array of objects has properties"),
        ({"type": "array", "items_type": "object"}, "is an array of objects: give their properties"),
        ({"type": "string", "items_type": "object"}, "items_type object is for an array"),
        ({"type": "object", "properties": PROPS * 2}, "repeats a name"),
        ({"type": "object", "properties": PROPS * 9}, "at most 8 items"),
        ({"type": "object", "location": "path", "required": True}, "must be a string, integer"),
    ],
)
def test_a_parameter_refuses_a_shape_that_does_not_fit(fields, problem):
    with pytest.raises(ValidationError, match=problem):
        parameter(**fields)


def test_a_parameter_takes_the_new_shapes_and_an_object_without_properties_stays_free_form():
    assert parameter(type="object").properties == []  # as earlier runs and the toolsmith write it
    assert parameter(type="integer", minimum=1, maximum=1, enum=["1"]).maximum == 1
    assert parameter(format="uuid", default="123e4567-e89b-12d3-a456-426614174000").format == "uuid"
    assert parameter(type="array", items_type="object", properties=PROPS).holds_objects


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"type": "array"}, "is an array: give items_type"),
        ({"type": "integer", "enum": ["one"]}, "'one' is not a valid integer"),
        ({"type": "object"}, "type"),  # one level only
    ],
)
def test_a_property_refuses_a_shape_that_does_not_fit(fields, problem):
    with pytest.raises(ValidationError, match=problem):
        PropertyDoc.model_validate({"name": "p", "description": "A property", **fields})


def test_a_response_field_holds_fields_only_as_an_object_or_an_array_of_objects():
    assert FieldDoc(name="raw", type="object").fields == []
    fields = [{"name": "a"}, {"name": "a", "type": "integer"}]
    assert [
        f.type for f in FieldDoc.model_validate({"name": "o", "type": "object", "fields": fields}).fields
    ] == ["string"]
    with pytest.raises(ValidationError, match="give their fields"):
        FieldDoc(name="list", type="array", items_type="object")
    with pytest.raises(ValidationError, match="only an object or an array of objects has fields"):
        FieldDoc.model_validate({"name": "s", "fields": [{"name": "a"}]})
    with pytest.raises(ValidationError, match="is an array: give items_type"):
        FieldDoc.model_validate({"name": "o", "type": "object", "fields": [{"name": "a", "type": "array"}]})


# -- the spec -----------------------------------------------------------------------------------------


def test_the_spec_carries_ranges_formats_and_nested_shapes_and_is_valid(spec):
    assert spec_problems(spec) == []
    search = spec["paths"]["/flights"]["get"]
    params = {p["name"]: p for p in search["parameters"]}
    assert params["passengers"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 9}
    assert params["day"]["schema"] == {"type": "string", "format": "date"}
    assert params["stops"]["schema"] == {"type": "integer", "maximum": 3, "default": 1}
    assert params["filter"] == {
        "name": "filter",
        "in": "query",
        "required": False,
        "description": "What the flights must offer",
        "schema": {
            "type": "object",
            "properties": {
                "airline": {"type": "string", "description": "Airline code", "enum": ["LH", "AF"]},
                "direct": {"type": "boolean", "description": "Direct only"},
            },
            "required": ["direct"],
        },
        "style": "deepObject",
        "explode": True,
    }
    assert params["via"]["schema"]["items"]["required"] == ["city"] and "style" not in params["via"]
    answer = search["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert answer["flights"]["items"] == {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "Flight code"},
            "price": {"type": "number", "description": ""},
            "legs": {"type": "array", "items": {"type": "string"}, "description": ""},
        },
        "required": ["code", "price", "legs"],
    }
    assert answer["meta"]["required"] == ["total"]
    assert answer["raw"] == {"type": "object", "description": "The airline's own record"}
    body = spec["paths"]["/trips"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    travellers = body["properties"]["travellers"]
    assert travellers["items"]["required"] == ["name"]
    assert travellers["items"]["properties"]["meals"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "Meal wishes",
    }
    assert body["properties"]["contact"]["format"] == "email"
    assert body["properties"]["notes"] == {"type": "object", "description": "Free-form notes"}


def test_the_documentation_names_ranges_formats_and_fields(spec):
    text = nl_documentation(spec)
    params = json.loads(text.split("\n")[1].removeprefix("Parameters: "))
    assert params["passengers"] == "Integer. Number of passengers. Between 1 and 9. Required."
    assert params["day"] == "String. Day of departure. Format: date. Required."
    assert params["budget"] == "Number. Highest price. At least 0. Optional."
    assert params["stops"] == "Integer. Most stops. At most 3. Default: 1. Optional."
    assert params["filter"] == (
        "Object{airline: string, direct: boolean}. What the flights must offer. "
        'Fields: airline: Airline code, one of "LH", "AF"; direct (required): Direct only. Optional.'
    )
    assert (
        " - Structure: Object{flights: Array[Object{code: string, price: number, legs: Array[string]}]"
        in text
    )
    assert (
        '"travellers": "Array[Object{name: string, age: integer, meals: Array[string]}]. Who travels. '
        in text
    )


def test_the_documentation_reads_exclusive_bounds_as_written_elsewhere():
    from schemas.spec import _range_note

    assert (
        _range_note({"minimum": 0, "exclusiveMinimum": True, "maximum": 1}) == "Greater than 0 and at most 1."
    )
    assert _range_note({"exclusiveMaximum": 10}) == "Less than 10."
    assert _range_note({"type": "integer"}) is None


# -- the assistant's decoding schema and the embedded model's grammar ----------------------------------


def test_the_assistants_schemas_carry_the_nested_shapes(spec):
    book = arguments_schema(spec, operation_by_name(spec, "bookTrip").operation)
    items = book["properties"]["travellers"]["items"]
    assert items["required"] == ["name"] and set(items["properties"]) == {"name", "age", "meals"}
    search = arguments_schema(spec, operation_by_name(spec, "searchFlights").operation)
    assert search["properties"]["passengers"] == {"type": "integer", "minimum": 1, "maximum": 9}
    assert search["properties"]["day"] == {"type": "string", "format": "date"}
    assert search["properties"]["filter"]["required"] == ["direct"]
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in function_tools(spec)}
    assert tools["searchFlights"]["properties"]["filter"]["properties"]["airline"]["enum"] == ["LH", "AF"]
    assert tools["searchFlights"]["properties"]["filter"]["description"] == "What the flights must offer"


needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python (the `local` extra) is not installed",
)


@needs_llama
def test_the_embedded_models_grammar_takes_nested_arguments_and_answers(spec):
    from llama_cpp.llama_grammar import LlamaGrammar

    from agents.llm.local_provider import grammar_schema, json_grammar

    moves = Moves(call=True, parallel=True, ask=True, finish=True)
    grammar = json_grammar(grammar_schema(assistant_decoding_schema([spec], moves)))
    LlamaGrammar.from_string(grammar, verbose=False)  # llama.cpp parses it
    assert "travellers" in grammar and "direct" in grammar
    answer = json_grammar(grammar_schema(executor_decoding_schema(spec, "searchFlights")))
    LlamaGrammar.from_string(answer, verbose=False)
    assert "legs" in answer


# -- the executor's call checks ------------------------------------------------------------------------


def test_the_executor_takes_a_nested_call_and_refuses_a_range_or_format_violation(spec):
    good = {"passengers": "2", "day": "2025-03-01", "filter": {"direct": "true", "airline": "LH"}}
    _, _, arguments, request = check_call(spec, "searchFlights", good)
    assert arguments["filter"] == {"direct": True, "airline": "LH"} and arguments["passengers"] == 2
    assert request.query["filter"] == {"direct": True, "airline": "LH"}
    travellers = [{"name": "Ada Lovelace", "age": 36, "meals": ["vegan"]}]
    _, _, _, booking = check_call(spec, "bookTrip", {"travellers": travellers, "contact": "ada@example.org"})
    assert booking.body == {"travellers": travellers, "contact": "ada@example.org"}
    refused = [
        ({**good, "passengers": 12}, "parameter 'passengers' must be at most 9, not 12"),
        ({**good, "budget": -5}, "parameter 'budget' must be at least 0, not -5"),
        ({**good, "day": "next monday"}, "parameter 'day' must be a date"),
        ({**good, "filter": {"airline": "LH"}}, "parameter 'filter' lacks the required field(s) direct"),
        ({**good, "filter": {"direct": True, "airline": "BA"}}, "parameter 'filter.airline' must be one of"),
    ]
    for arguments_given, problem in refused:
        with pytest.raises(CallError, match=problem.replace("(", r"\(").replace(")", r"\)")):
            check_call(spec, "searchFlights", arguments_given)
    with pytest.raises(CallError, match=r"parameter 'travellers\[0\]' lacks the required field\(s\) name"):
        check_call(spec, "bookTrip", {"travellers": [{"age": 3}]})


def test_the_executor_holds_an_answer_to_its_nested_fields(spec):
    flight = {"code": "LH 123", "price": 99.5, "legs": ["FRA", "LIS"]}
    good = {"flights": [flight], "meta": {"total": 1}, "raw": {"anything": True}}
    check_response(spec, "searchFlights", ExecutorAnswer(status_code=200, body=good))
    lacking = {**good, "flights": [{"code": "LH 123", "legs": []}]}
    with pytest.raises(ValueError, match=r"body.flights\[0\]: 'price' is a required property"):
        check_response(spec, "searchFlights", ExecutorAnswer(status_code=200, body=lacking))
    schema = executor_decoding_schema(spec, "searchFlights")
    assert schema["properties"]["body"]["anyOf"][0]["properties"]["meta"]["required"] == ["total"]


# -- the rule layer -----------------------------------------------------------------------------------


def dialog(spec: dict[str, Any], request: str, arguments: dict[str, Any]) -> Dialog:
    """The messages and tools of a dialogue with one call (what the two rules read)."""
    made = ToolCall(id="call_1", name="searchFlights", arguments=json.dumps(arguments))
    messages = [
        Message(role="user", content=request),
        Message(role="assistant", tool_calls=[made]),
        Message(role="tool", content="{}", tool_call_id="call_1", name="searchFlights", status_code=200),
        Message(role="assistant", content="Done."),
    ]
    return Dialog.model_construct(messages=messages, tools=json.dumps(function_tools(spec)))


REQUEST = "Flights for 2 on 2025-03-01, direct, with LH, under 300 euros"
CALL = {"passengers": 2, "day": "2025-03-01", "budget": 300, "filter": {"direct": True, "airline": "LH"}}


def test_not_executable_refuses_a_value_outside_its_range_or_format(spec):
    assert rules.not_executable(dialog(spec, REQUEST, CALL)) is None
    assert rules.not_executable(dialog(spec, REQUEST, {**CALL, "passengers": 10})) == (
        "call_1 (searchFlights): passengers: 10 is greater than the maximum of 9"
    )
    assert rules.not_executable(dialog(spec, REQUEST, {**CALL, "day": "March 1st"})) == (
        "call_1 (searchFlights): day: 'March 1st' is not a 'date'"
    )
    nested = {**CALL, "filter": {"airline": "LH"}}
    assert rules.not_executable(dialog(spec, REQUEST, nested)) == (
        "call_1 (searchFlights): filter: 'direct' is a required property"
    )


def test_grounding_checks_each_value_inside_an_object_against_its_own_property(spec):
    assert rules.ungrounded_argument(dialog(spec, REQUEST, CALL)) is None
    invented = {**CALL, "filter": {"direct": True, "airline": "Lufthansa"}}
    assert rules.ungrounded_argument(dialog(spec, REQUEST, invented)) == (
        "searchFlights(filter.airline='Lufthansa') appears in no user message and no earlier result"
    )
    unsaid = dialog(spec, "Flights for 2 on 2025-03-01 under 300 euros", CALL)
    assert rules.ungrounded_argument(unsaid) is None  # "LH" is one of the property's enum values
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in function_tools(spec)}
    assert allowed_values(tools["searchFlights"], "filter.airline") == ["LH", "AF"]
    assert allowed_values(tools["searchFlights"], "stops") == [1]
    assert allowed_values(tools["bookTrip"], "travellers[0].name") == []
    assert allowed_values(tools["bookTrip"], "nothing[0].name") == []


# -- Parquet ------------------------------------------------------------------------------------------


def test_a_tool_with_nested_shapes_round_trips_through_parquet(spec):
    tool = make_tool(spec)
    table = to_table(Tool, [tool])
    function = table.schema.field("functions").type.value_type
    parameter = function.field("parameters").type.value_type
    assert parameter.field("minimum").type == pa.float64() and parameter.field("minimum").nullable
    assert parameter.field("format").type == pa.string()
    assert parameter.field("properties").type.value_type.field("enum").type == pa.list_(
        pa.field("item", pa.string(), nullable=False)
    )
    assert function.field("response_fields").type.value_type.field("fields").type.value_type.names == [
        "name",
        "type",
        "items_type",
        "description",
    ]
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    read = pq.read_table(pa.BufferReader(sink.getvalue()))
    assert from_table(Tool, read.cast(arrow_schema(Tool))) == [tool]
