"""From structured function documentation to an OpenAPI 3 spec, and from the spec to what agents read.

Pure functions, no LLM: `compile_openapi` builds the spec, `spec_problems` runs
openapi-spec-validator over it, `non_textual_media` finds binary media types, `nl_documentation`
renders the spec as the text later agents read, `routes` projects function name -> (method, path),
and `function_inputs` lists a function's inputs: the one reading of them that the assistant's decoding
(`arguments_schema`) and the executor's call checks share.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from openapi_spec_validator import OpenAPIV30SpecValidator

from schemas.seed import Seed
from schemas.tool import TEXTUAL_MEDIA_TYPES, FieldDoc, FunctionDoc, FunctionRoute, ParameterDoc

OPENAPI_VERSION = "3.0.3"
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


def server_url(link: str) -> str:
    """The API's origin, from the seed's link (`https://host`), or `/` when there is no usable link."""
    parts = urlsplit(link.strip())
    if parts.scheme in {"http", "https"} and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return "/"


def _value_schema(kind: str, items_type: str | None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind}
    if kind == "array":
        schema["items"] = {"type": items_type or "string"}
    return schema


def _parameter_schema(param: ParameterDoc) -> dict[str, Any]:
    schema = _value_schema(param.type, param.items_type)
    if param.enum:
        schema["enum"] = param.typed_enum()
    if param.default is not None:
        schema["default"] = param.typed_default()
    return schema


def _fields_schema(fields: list[FieldDoc]) -> dict[str, Any]:
    properties = {
        f.name: {**_value_schema(f.type, f.items_type), "description": f.description} for f in fields
    }
    return {"type": "object", "properties": properties, "required": [f.name for f in fields]}


def _operation(function: FunctionDoc) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": function.name,
        "summary": function.description.split(". ")[0][:120],
        "description": function.description,
        "parameters": [
            {
                "name": p.name,
                "in": p.location,
                "required": p.required,
                "description": p.description,
                "schema": _parameter_schema(p),
            }
            for p in function.parameters
            if p.location != "body"
        ],
    }
    body = [p for p in function.parameters if p.location == "body"]
    if body:
        schema = {
            "type": "object",
            "properties": {p.name: {**_parameter_schema(p), "description": p.description} for p in body},
        }
        required = [p.name for p in body if p.required]
        if required:
            schema["required"] = required
        operation["requestBody"] = {
            "required": bool(required),
            "content": {function.request_media_type: {"schema": schema}},
        }
    media = function.response_media_type
    success_schema = (
        _fields_schema(function.response_fields) if media == "application/json" else {"type": "string"}
    )
    responses: dict[str, Any] = {
        "200": {"description": function.response_description, "content": {media: {"schema": success_schema}}}
    }
    for error in function.errors:
        responses[str(error.status)] = {
            "description": error.description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation["responses"] = responses
    return operation


def compile_openapi(seed: Seed, introduction: str, functions: list[FunctionDoc]) -> dict[str, Any]:
    """The OpenAPI 3.0 spec of a tool: one operation per function, `operationId` = function name."""
    paths: dict[str, dict[str, Any]] = {}
    for function in functions:
        paths.setdefault(function.path, {})[function.method.lower()] = _operation(function)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": seed.name, "description": introduction, "version": "1.0.0"},
        "servers": [{"url": server_url(seed.link)}],
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }


def spec_problems(spec: dict[str, Any], limit: int = 5) -> list[str]:
    """openapi-spec-validator's complaints about the spec (empty when it is valid)."""
    problems: list[str] = []
    try:
        for error in OpenAPIV30SpecValidator(spec).iter_errors():
            where = "/".join(str(p) for p in error.absolute_path)
            problems.append(f"{where}: {error.message}" if where else error.message)
            if len(problems) >= limit:
                break
    except Exception as exc:  # the validator trips over some malformed specs instead of reporting them
        problems.append(f"the validator could not read the spec: {type(exc).__name__}: {exc}")
    return problems


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, METHOD, operation) for every operation in the spec."""
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    return [
        (path, method.upper(), operation)
        for path, item in spec.get("paths", {}).items()
        for method, operation in item.items()
        if method in methods
    ]


def non_textual_media(spec: dict[str, Any]) -> list[str]:
    """One line per operation whose request or response is not text (images, audio, files...)."""
    found = []
    for _, _, operation in operations(spec):
        name = operation.get("operationId", "?")
        body = operation.get("requestBody", {}).get("content", {})
        for media in body:
            if media not in TEXTUAL_MEDIA_TYPES:
                found.append(f"{name} takes {media}")
        for status, response in operation.get("responses", {}).items():
            for media in response.get("content", {}):
                if media not in TEXTUAL_MEDIA_TYPES:
                    found.append(f"{name} answers {status} with {media}")
    return found


def routes(spec: dict[str, Any]) -> list[FunctionRoute]:
    """The projection function name -> (method, path)."""
    return [
        FunctionRoute(name=op["operationId"], method=method, path=path)
        for path, method, op in operations(spec)
    ]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a local `$ref` followed (one level at a time)."""
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def describe_schema(spec: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> str:
    """A compact type description: `Object{fact: string, tags: Array[string]}`."""
    schema = resolve(spec, schema)
    kind = schema.get("type", "object")
    if kind == "object" and "properties" in schema and depth < 3:
        inner = ", ".join(
            f"{name}: {describe_schema(spec, sub, depth + 1)}" for name, sub in schema["properties"].items()
        )
        return f"Object{{{inner}}}"
    if kind == "array":
        return f"Array[{describe_schema(spec, schema.get('items', {}), depth + 1)}]"
    return str(kind)


def _parameter_line(param: dict[str, Any], required: bool) -> str:
    schema = param.get("schema", {})
    parts = [
        str(schema.get("type", "string")).capitalize() + ".",
        param.get("description", "").rstrip(".") + ".",
    ]
    if "enum" in schema:
        parts.append("One of: " + ", ".join(json.dumps(v) for v in schema["enum"]) + ".")
    if "default" in schema:
        parts.append(f"Default: {json.dumps(schema['default'])}.")
    parts.append("Required." if required else "Optional.")
    return " ".join(parts)


def nl_documentation(spec: dict[str, Any]) -> str:
    """The spec as text, one block per function (the form the original work's agents read)."""
    blocks = []
    for _, _, operation in operations(spec):
        params: dict[str, str] = {}
        for param in operation.get("parameters", []):
            params[param["name"]] = _parameter_line(param, bool(param.get("required")))
        for content in operation.get("requestBody", {}).get("content", {}).values():
            body = resolve(spec, content.get("schema", {}))
            for name, sub in body.get("properties", {}).items():
                params[name] = _parameter_line(
                    {"description": sub.get("description", ""), "schema": sub},
                    name in body.get("required", []),
                )
        ok = operation["responses"].get("200", {})
        media, content = next(iter(ok.get("content", {"application/json": {"schema": {}}}).items()))
        errors = [
            f"{status}: {r.get('description', '')}"
            for status, r in operation["responses"].items()
            if status != "200"
        ]
        lines = [
            f"{operation['operationId']}: {operation.get('description', '')}",
            f"Parameters: {json.dumps(params, ensure_ascii=False)}",
            f"Output: {ok.get('description', '')}",
            f" - Format: {media}",
            f" - Structure: {describe_schema(spec, content.get('schema', {}))}",
        ]
        if errors:
            lines.append(f" - Errors: {'; '.join(errors)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def operation_by_name(spec: dict[str, Any], name: str) -> tuple[str, str, dict[str, Any]] | None:
    """(path, METHOD, operation) of the function called `name`, or None."""
    return next(((p, m, op) for p, m, op in operations(spec) if op.get("operationId") == name), None)


@dataclass(frozen=True)
class FunctionInput:
    """One input of a function: a path, query, header or cookie parameter, or a request-body field."""

    name: str
    location: str
    required: bool
    schema: dict[str, Any]


def function_inputs(spec: dict[str, Any], operation: dict[str, Any]) -> list[FunctionInput]:
    """Every input of an operation, `$ref`s inlined: what the assistant may pass and the executor checks."""
    inputs = []
    for raw in operation.get("parameters", []):
        param = resolve(spec, raw)
        inputs.append(
            FunctionInput(
                name=param["name"],
                location=param.get("in", "query"),
                required=bool(param.get("required")) or param.get("in") == "path",
                schema=inline_refs(spec, param.get("schema", {})),
            )
        )
    for content in operation.get("requestBody", {}).get("content", {}).values():
        body = inline_refs(spec, content.get("schema", {}))
        required = set(body.get("required", []))
        for name, sub in body.get("properties", {}).items():
            inputs.append(FunctionInput(name=name, location="body", required=name in required, schema=sub))
        break  # one media type describes the body
    return inputs


def arguments_schema(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    """One JSON schema object for all of a function's inputs (descriptions left out: for decoding)."""
    inputs = function_inputs(spec, operation)
    return {
        "type": "object",
        "properties": {i.name: {k: v for k, v in i.schema.items() if k != "description"} for i in inputs},
        "required": [i.name for i in inputs if i.required],
    }


def inline_refs(spec: dict[str, Any], schema: Any, _open: tuple[str, ...] = ()) -> Any:
    """`schema` with every local `$ref` replaced by its target (a recursive one by `{}`: anything)."""
    if isinstance(schema, list):
        return [inline_refs(spec, item, _open) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in _open:
            return {}
        return inline_refs(spec, resolve(spec, {"$ref": ref}), (*_open, ref))
    return {key: inline_refs(spec, value, _open) for key, value in schema.items()}
