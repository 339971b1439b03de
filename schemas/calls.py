"""Checks of a function call and of an API's answer against a tool's spec, with no LLM.

`check_call` vets a call's arguments (an unknown function, a missing or unknown parameter, a wrong
type, a value outside its enum or its range or not of its format is a `CallError` whose message is
the API's error observation) and builds the HTTP request; `check_response` vets an answer (a
documented status, a body that conforms to that status's response schema). The simulated executor
uses both; so can any later check of a finished dialogue.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import quote, urlencode

from jsonschema import FormatChecker
from openapi_schema_validator import OAS30Validator
from pydantic import BaseModel, Field

from schemas.simulation import ExecutorAnswer
from schemas.spec import (
    Operation,
    function_inputs,
    inline_refs,
    is_json_media,
    operation_by_name,
    operations,
    resolve,
    responses,
    schema_bound,
    success_status,
)
from schemas.text import clipped

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_MAX_PROBLEMS = 5
SHOWN_CHARS = 120
"""A value quoted in a call's error is cut to this many characters."""
TEXT_FIELD = "content"
"""The body field that holds a non-JSON (text) response, or a JSON response that is not an object."""
_OPENAPI_ONLY = {"nullable", "example", "discriminator", "xml", "externalDocs", "deprecated"}
_OPENAPI_ONLY |= {"readOnly", "writeOnly", "description", "title", "default"}
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


class CallError(ValueError):
    """A call the simulated API refuses before any simulation; the message is the observation."""


class HttpRequest(BaseModel):
    """The HTTP request a function call makes."""

    method: str
    path: str = Field(description="The path with its placeholders filled (URL-quoted).")
    query: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, Any] = Field(default_factory=dict)
    body: dict[str, Any] | None = None

    def describe(self) -> str:
        """`GET /records/abc?limit=5`, then the headers and the JSON body, if any."""
        line = f"{self.method} {self.path}"
        if self.query:
            pairs = {k: _query_value(v) for k, v in self.query.items()}
            line += "?" + urlencode(pairs, doseq=True, quote_via=quote)
        if self.headers:
            line += " headers: " + json.dumps(self.headers, ensure_ascii=False)
        if self.body is not None:
            line += " " + json.dumps(self.body, ensure_ascii=False)
        return line


def _query_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_scalar_text(v) for v in value]
    return _scalar_text(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list) or value is None:
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def error_answer(message: str, status: int = 400) -> ExecutorAnswer:
    """The API's answer to a call it refuses: `{"error": {"code": status, "message": message}}`."""
    return ExecutorAnswer(status_code=status, body={"error": {"code": status, "message": message}})


# -- the call -----------------------------------------------------------------------------------


def _operation(spec: dict[str, Any], function: str) -> Operation:
    found = operation_by_name(spec, function)
    if found is None:
        known = [op.name for op in operations(spec)]
        raise CallError(f"unknown function {function!r}; the functions of this tool are: {', '.join(known)}")
    return found


def _parse_json_object(action_input: Any) -> dict[str, Any]:
    if action_input is None:
        return {}
    if isinstance(action_input, str):
        if not action_input.strip():
            return {}
        try:
            parsed = json.loads(action_input)
        except ValueError:
            raise CallError(
                f"the action input must be a JSON object of named arguments, not the text {action_input!r}"
            ) from None
        action_input = parsed
    if not isinstance(action_input, dict):
        raise CallError(
            "the action input must be a JSON object of named arguments, not a JSON "
            f"{_json_kind(action_input)} ({json.dumps(action_input, ensure_ascii=False)[:200]})"
        )
    return action_input


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _show(value: Any) -> str:
    return clipped(json.dumps(value, ensure_ascii=False), SHOWN_CHARS)


def _coerce(value: Any, schema: dict[str, Any], where: str) -> Any:
    """`value` as the type `schema` asks for (converted only when unambiguous), or CallError."""
    kind = schema.get("type")
    if value is None and schema.get("nullable"):
        return None
    converted = _convert(value, kind)
    if converted is _MISMATCH:
        raise CallError(f"parameter {where!r} must be {_article(kind)} {kind}, not {_show(value)}")
    value = converted
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(_show(v) for v in schema["enum"])
        raise CallError(f"parameter {where!r} must be one of {allowed}, not {_show(value)}")
    _check_range(value, schema, where)
    _check_format(value, schema, where)
    if kind == "array" and isinstance(value, list):
        items = schema.get("items", {})
        value = [_coerce(item, items, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict) and "properties" in schema:
        value = dict(value)
        for name, sub in schema["properties"].items():
            if name in value:
                value[name] = _coerce(value[name], sub, f"{where}.{name}")
        missing = [r for r in schema.get("required", []) if r not in value]
        if missing:
            raise CallError(f"parameter {where!r} lacks the required field(s) {', '.join(missing)}")
    return value


_MISMATCH = object()
_FORMATS = FormatChecker()


def _check_range(value: Any, schema: dict[str, Any], where: str) -> None:
    """CallError when a number lies outside the schema's `minimum`/`maximum` (exclusive ones too)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    low, high = schema_bound(schema, "min"), schema_bound(schema, "max")
    if low is not None and (value < low[0] or (low[1] and value == low[0])):
        relation = "greater than" if low[1] else "at least"
        raise CallError(f"parameter {where!r} must be {relation} {_show(low[0])}, not {_show(value)}")
    if high is not None and (value > high[0] or (high[1] and value == high[0])):
        relation = "less than" if high[1] else "at most"
        raise CallError(f"parameter {where!r} must be {relation} {_show(high[0])}, not {_show(value)}")


def _check_format(value: Any, schema: dict[str, Any], where: str) -> None:
    """CallError when a string lacks the schema's `format` (one that jsonschema's FormatChecker knows:
    date, date-time, email, uri, uuid...; others, like OpenAPI's `byte` or `password`, pass)."""
    fmt = schema.get("format")
    if isinstance(value, str) and isinstance(fmt, str) and not _FORMATS.conforms(value, fmt):
        raise CallError(f"parameter {where!r} must be a {fmt}, not {_show(value)}")


def _article(kind: Any) -> str:
    return "an" if str(kind)[:1] in {"a", "i", "o"} else "a"


def _convert(value: Any, kind: Any) -> Any:
    """The value as a `kind`, or _MISMATCH when that would be a guess."""
    if kind is None:
        return value
    if kind == "integer":
        if isinstance(value, bool):
            return _MISMATCH
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER.match(value.strip()):
            return int(value.strip())
        return _MISMATCH
    if kind == "number":
        if isinstance(value, bool):
            return _MISMATCH
        if isinstance(value, int | float):
            return value if math.isfinite(value) else _MISMATCH
        if isinstance(value, str) and _NUMBER.match(value.strip()):
            text = value.strip()
            return int(text) if _INTEGER.match(text) else float(text)
        return _MISMATCH
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
            return value.strip().lower() == "true"
        return _MISMATCH
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return _MISMATCH
    if kind in {"array", "object"}:
        wanted = list if kind == "array" else dict
        if isinstance(value, wanted):
            return value
        if isinstance(value, str) and value.strip()[:1] in {"[", "{"}:
            try:
                parsed = json.loads(value)
            except ValueError:
                return _MISMATCH
            return parsed if isinstance(parsed, wanted) else _MISMATCH
        return _MISMATCH
    return value


def check_call(
    spec: dict[str, Any], function: str, action_input: Any
) -> tuple[str, str, dict[str, Any], HttpRequest]:
    """(path template, METHOD, the coerced arguments, the HTTP request), or CallError naming the problem."""
    path, method, _, operation = _operation(spec, function)
    arguments = _parse_json_object(action_input)
    params = function_inputs(spec, operation)
    by_name = {p.name: p for p in params}
    known = ", ".join(by_name) or "(none)"

    problems: list[str] = []
    unknown = [name for name in arguments if name not in by_name]
    for name in unknown:
        problems.append(f"unknown parameter {name!r} (the parameters of {function} are: {known})")
    coerced: dict[str, Any] = {}
    for param in params:
        value = arguments.get(param.name)
        if param.name not in arguments or (value is None and not param.schema.get("nullable")):
            if param.required:
                problems.append(f"missing required parameter {param.name!r}")
            continue
        try:
            coerced[param.name] = _coerce(value, param.schema, param.name)
        except CallError as exc:
            problems.append(str(exc))
    if problems:
        raise CallError(f"invalid call to {function}: " + "; ".join(problems))

    filled = _PLACEHOLDER.sub(
        lambda m: quote(_scalar_text(coerced.get(m.group(1), m.group(0))), safe=""), path
    )
    body = {p.name: coerced[p.name] for p in params if p.location == "body" and p.name in coerced}
    body_required = bool(resolve(spec, operation.get("requestBody") or {}).get("required"))
    request = HttpRequest(
        method=method,
        path=filled,
        query={p.name: coerced[p.name] for p in params if p.location == "query" and p.name in coerced},
        headers={
            p.name: coerced[p.name]
            for p in params
            if p.location in {"header", "cookie"} and p.name in coerced
        },
        body=body if body or body_required else None,
    )
    return path, method, coerced, request


# -- the answer ---------------------------------------------------------------------------------


def _responses(spec: dict[str, Any], function: str) -> dict[int, dict[str, Any]]:
    """The documented responses by HTTP status. A success documented only as `2XX` or `default` is
    answered as 200 (one status is simulated); other ranges and `default` otherwise are not simulated."""
    operation = _operation(spec, function).operation
    documented = responses(spec, operation)
    found = {int(status): r for status, r in documented.items() if status.isdigit()}
    success = success_status(spec, operation)
    if success is not None and not success.isdigit():
        found.setdefault(200, documented[success])
    return found


def documented_statuses(spec: dict[str, Any], function: str) -> list[int]:
    """The function's documented HTTP statuses, success first."""
    return sorted(_responses(spec, function), key=lambda s: (not 200 <= s < 300, s))


def response_schema(spec: dict[str, Any], function: str, status: int) -> dict[str, Any] | None:
    """The JSON schema of the answer's body for `status` ($refs inlined), or None if it is not documented.

    A JSON object schema is the body's schema. A body with no content is `{}`; a text document (or a
    JSON value that is not an object) is the body `{"content": ...}`.
    """
    response = _responses(spec, function).get(status)
    if response is None:
        return None
    content = response.get("content") or {}
    if not content:
        return {"type": "object", "properties": {}, "additionalProperties": False}
    media = next((m for m in content if is_json_media(m)), next(iter(content)))
    schema = inline_refs(spec, (content[media] or {}).get("schema") or {})
    if is_json_media(media):
        if schema.get("type", "object") == "object":
            return schema
        return _wrapped(schema)
    return _wrapped({"type": "string", "description": f"The {media} document."})


def _wrapped(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {TEXT_FIELD: schema}, "required": [TEXT_FIELD]}


def _where(error: Any) -> str:
    where = "body"
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where


def check_response(spec: dict[str, Any], function: str, answer: ExecutorAnswer) -> None:
    """ValueError (text for the model to act on) unless the status is documented and the body conforms."""
    statuses = documented_statuses(spec, function)
    if answer.status_code not in statuses:
        listed = ", ".join(str(s) for s in statuses)
        raise ValueError(
            f"status_code {answer.status_code} is not documented for {function}; answer with one of "
            f"{listed} (a success status unless the request deserves one of the documented errors)"
        )
    schema = response_schema(spec, function, answer.status_code)
    assert schema is not None
    errors = sorted(
        OAS30Validator(schema).iter_errors(answer.body), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if not errors:
        return
    problems = [f"{_where(e)}: {e.message}" for e in errors[:_MAX_PROBLEMS]]
    if len(errors) > _MAX_PROBLEMS:
        problems.append(f"... and {len(errors) - _MAX_PROBLEMS} more")
    raise ValueError(
        f"the body does not conform to the response schema of {function} for status "
        f"{answer.status_code}: "
        + "; ".join(problems)
        + ". The body must match this schema: "
        + json.dumps(plain_schema(schema), separators=(",", ":"))
    )


# -- the decoding schema ------------------------------------------------------------------------


def plain_schema(schema: Any) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema (draft 7), without documentation keywords."""
    if isinstance(schema, list):
        return [plain_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    plain: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _OPENAPI_ONLY or key.startswith("x-"):
            continue
        if key == "properties" and isinstance(value, dict):
            plain[key] = {name: plain_schema(sub) for name, sub in value.items()}
        elif key in {"items", "additionalProperties", "not"} and isinstance(value, dict):
            plain[key] = plain_schema(value)
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            plain[key] = [plain_schema(sub) for sub in value]
        elif key in {"exclusiveMinimum", "exclusiveMaximum"} and isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value and bound in schema:
                plain[key] = schema[bound]
        else:
            plain[key] = value
    for key in ("minimum", "maximum"):
        exclusive = "exclusiveMinimum" if key == "minimum" else "exclusiveMaximum"
        if schema.get(exclusive) is True:
            plain.pop(key, None)
    if schema.get("nullable"):
        if "type" in plain:
            plain["type"] = [plain["type"], "null"]
        if "enum" in plain and None not in plain["enum"]:
            plain["enum"] = [*plain["enum"], None]
    return plain
