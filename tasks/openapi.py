"""From structured function documentation to an OpenAPI 3 spec, and the validator's view of a spec.

Pure functions, no LLM: `compile_openapi` builds the spec of a tool (one operation per function,
`operationId` = the function's name), `spec_problems` runs openapi-spec-validator over any spec.
Reading a spec (functions, inputs, documentation) is `schemas.spec`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from openapi_spec_validator import OpenAPIV30SpecValidator
from openapi_spec_validator.validation.validators import SpecValidator

from schemas.seed import Seed
from schemas.tool import FieldDoc, FunctionDoc, ParameterDoc, PropertyDoc, SubFieldDoc

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


def _number(value: float) -> int | float:
    """A bound as JSON writes it best: `1`, not `1.0`."""
    return int(value) if value.is_integer() else value


def _property_schema(prop: PropertyDoc) -> dict[str, Any]:
    """The schema of one property of an object parameter, with its description."""
    schema = {**_value_schema(prop.type, prop.items_type), "description": prop.description}
    if prop.enum:
        schema["enum"] = prop.typed_enum()
    return schema


def _object_schema(properties: list[PropertyDoc]) -> dict[str, Any]:
    """An object with the documented properties; `required` lists those required (when any is)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: _property_schema(p) for p in properties},
    }
    required = [p.name for p in properties if p.required]
    if required:
        schema["required"] = required
    return schema


def _shape_schema(param: ParameterDoc) -> dict[str, Any]:
    """The parameter's type: a scalar, an array, an object (free-form without properties)."""
    if param.type == "object" and param.properties:
        return _object_schema(param.properties)
    if param.type == "array" and param.items_type == "object":
        return {"type": "array", "items": _object_schema(param.properties)}
    return _value_schema(param.type, param.items_type)


def _parameter_schema(param: ParameterDoc) -> dict[str, Any]:
    """The schema of a parameter: its shape, then its format, range, enum and default."""
    schema = _shape_schema(param)
    if param.format is not None:
        schema["format"] = param.format
    if param.minimum is not None:
        schema["minimum"] = _number(param.minimum)
    if param.maximum is not None:
        schema["maximum"] = _number(param.maximum)
    if param.enum:
        schema["enum"] = param.typed_enum()
    if param.default is not None:
        schema["default"] = param.typed_default()
    return schema


def _parameter_object(param: ParameterDoc) -> dict[str, Any]:
    """A path or query parameter object; an object with properties in the query is sent as
    `name[prop]=value` (`style: deepObject`)."""
    found: dict[str, Any] = {
        "name": param.name,
        "in": param.location,
        "required": param.required,
        "description": param.description,
        "schema": _parameter_schema(param),
    }
    if param.type == "object" and param.properties:
        found |= {"style": "deepObject", "explode": True}
    return found


def _field_schema(field: FieldDoc | SubFieldDoc) -> dict[str, Any]:
    """A response field's schema, its own fields (all present in an answer) when it has them."""
    nested = field.fields if isinstance(field, FieldDoc) else []
    if field.type == "array" and field.items_type == "object":
        schema = {"type": "array", "items": _fields_schema(nested)}
    elif field.type == "object" and nested:
        schema = _fields_schema(nested)
    else:
        schema = _value_schema(field.type, field.items_type)
    return {**schema, "description": field.description}


def _fields_schema(fields: list[FieldDoc] | list[SubFieldDoc]) -> dict[str, Any]:
    """The object a JSON response (or a nested field of it) is: every documented field present."""
    properties = {f.name: _field_schema(f) for f in fields}
    return {"type": "object", "properties": properties, "required": [f.name for f in fields]}


def _operation(function: FunctionDoc) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": function.name,
        "summary": function.description.split(". ")[0][:120],
        "description": function.description,
        "parameters": [_parameter_object(p) for p in function.parameters if p.location != "body"],
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
            message = error.message.split("\n\n", 1)[0]  # jsonschema-rs adds the schema and instance
            problems.append(f"{where}: {message}" if where else message)
            if len(problems) >= limit:
                break
    except Exception as exc:  # the validator trips over some malformed specs instead of reporting them
        problems.append(f"the validator could not read the spec: {type(exc).__name__}: {exc}")
    finally:
        _forget_validators()
    return problems


def _forget_validators() -> None:
    """openapi-spec-validator 0.9 caches `iter_errors` per validator (`lru_cache` on the method, no
    size limit): every validator made stays alive, spec and all, about 33 KB each here (880 MB over
    ToolACE's 26,507 tools). Each validator is used once, so the cache is dropped after each."""
    cached = getattr(SpecValidator.iter_errors, "__wrapped__", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()
