"""Reading an OpenAPI 3.0 spec: its functions, their inputs, responses and media types, and the
spec as the text agents read.

Pure functions over the spec as a dict, for any valid OpenAPI 3.0 spec (ToolForge's own, or one
written elsewhere): `operations` names every function (its `operationId`, else its method and path),
`function_inputs` lists a function's inputs (the one reading that the assistant's decoding schema
and the executor's call checks share), `responses`/`success_status` its answers, `nl_documentation`
renders the spec as text, `is_json_media`/`is_textual_media` classify media types.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from schemas.tool import TEXTUAL_MEDIA_TYPES, FunctionRoute

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_NAME_WORD = re.compile(r"[A-Za-z0-9]+")
_NAME_LIMIT = 64


class Operation(NamedTuple):
    """One operation of a spec: where it lives, its name as a function, and its OpenAPI object.

    `operation` carries the path item's shared `parameters` too (the operation's own win on a clash).
    """

    path: str
    method: str
    name: str
    operation: dict[str, Any]


def derived_name(method: str, path: str) -> str:
    """A function name for an operation without `operationId` (optional in OpenAPI 3): the method and
    the path in camelCase, placeholders as `By...`: `GET /pets/{petId}/toys` -> `getPetsByPetIdToys`."""
    words = [method.lower()]
    for segment in path.strip("/").split("/"):
        parts = [w[:1].upper() + w[1:] for w in _NAME_WORD.findall(segment)]
        if segment.startswith("{") and parts:
            parts = ["By", *parts]
        words += parts
    return "".join(words)[:_NAME_LIMIT]


def operations(spec: dict[str, Any]) -> list[Operation]:
    """Every operation of the spec, named: its `operationId`, else a name derived from method and path
    (`derived_name`; numbered `_2`, `_3`... should two operations end up with one name)."""
    found: list[Operation] = []
    taken: set[str] = set()
    for path, item in (spec.get("paths") or {}).items():
        item = resolve(spec, item) if isinstance(item, dict) else {}
        shared = [resolve(spec, p) for p in item.get("parameters") or [] if isinstance(p, dict)]
        for method, operation in item.items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            given = operation.get("operationId")
            name = given if isinstance(given, str) and given.strip() else derived_name(method, path)
            base, number = name, 2
            while name in taken:
                name, number = f"{base}_{number}", number + 1
            taken.add(name)
            if shared:
                own = {(p.get("name"), p.get("in")) for p in (resolve(spec, p) for p in _params(operation))}
                inherited = [p for p in shared if (p.get("name"), p.get("in")) not in own]
                operation = {**operation, "parameters": [*inherited, *_params(operation)]}
            found.append(Operation(path, method.upper(), name, operation))
    return found


def _params(operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's own parameter objects (or references)."""
    return [p for p in operation.get("parameters") or [] if isinstance(p, dict)]


def media_essence(media: str) -> str:
    """`Application/JSON; charset=utf-8` -> `application/json`."""
    return media.split(";", 1)[0].strip().lower()


def is_json_media(media: str) -> bool:
    """application/json, text/json and any `+json` type (application/problem+json, ...)."""
    essence = media_essence(media)
    return essence in {"application/json", "text/json", "application/x-json"} or essence.endswith("+json")


def is_textual_media(media: str) -> bool:
    """Whether a request or response of this media type is text a language model can read and write:
    JSON and XML of any flavour, `text/*`, form fields, and the unspecified `*/*`."""
    essence = media_essence(media)
    kind, _, subtype = essence.partition("/")
    return (
        essence in TEXTUAL_MEDIA_TYPES
        or is_json_media(essence)
        or kind == "text"
        or subtype in {"xml", "x-www-form-urlencoded", "javascript", "x-yaml", "yaml"}
        or subtype.endswith("+xml")
        or essence in {"*/*", "application/*"}
    )


def non_textual_media(spec: dict[str, Any]) -> list[str]:
    """One line per operation whose request or response is not text (images, audio, files...)."""
    found = []
    for op in operations(spec):
        body = resolve(spec, op.operation.get("requestBody") or {}).get("content") or {}
        for media in body:
            if not is_textual_media(media):
                found.append(f"{op.name} takes {media}")
        for status, response in (op.operation.get("responses") or {}).items():
            for media in resolve(spec, response or {}).get("content") or {}:
                if not is_textual_media(media):
                    found.append(f"{op.name} answers {status} with {media}")
    return found


def routes(spec: dict[str, Any]) -> list[FunctionRoute]:
    """The projection function name -> (method, path)."""
    return [FunctionRoute(name=op.name, method=op.method, path=op.path) for op in operations(spec)]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a local `$ref` followed (one level at a time); a reference that leads nowhere
    (another file, a missing component) is `{}`: anything, never a crash."""
    seen: set[str] = set()
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
            return {}
        seen.add(ref)
        node: Any = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return {}
            node = node[part]
        schema = node
    return schema if isinstance(schema, dict) else {}


def describe_schema(spec: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> str:
    """A compact type description: `Object{fact: string, tags: Array[string]}`."""
    schema = resolve(spec, schema)
    kind = schema.get("type", "object")
    if kind == "object" and isinstance(schema.get("properties"), dict) and depth < 3:
        inner = ", ".join(
            f"{name}: {describe_schema(spec, sub, depth + 1)}" for name, sub in schema["properties"].items()
        )
        return f"Object{{{inner}}}"
    if kind == "array":
        return f"Array[{describe_schema(spec, schema.get('items') or {}, depth + 1)}]"
    return str(kind)


def _parameter_line(spec: dict[str, Any], param: dict[str, Any], required: bool) -> str:
    schema = parameter_schema(spec, param)
    parts = [
        _type_word(spec, schema) + ".",
        str(param.get("description") or "").rstrip(".") + ".",
    ]
    parts += [
        note for note in (_fields_note(spec, schema), _format_note(schema), _range_note(schema)) if note
    ]
    if "enum" in schema:
        parts.append("One of: " + ", ".join(json.dumps(v) for v in schema["enum"]) + ".")
    if "default" in schema:
        parts.append(f"Default: {json.dumps(schema['default'])}.")
    parts.append("Required." if required else "Optional.")
    return " ".join(parts)


def _object_part(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema with properties that a parameter is, or holds as its items; else None."""
    if schema.get("type") == "array" or "items" in schema:
        schema = resolve(spec, schema.get("items") or {})
    return schema if isinstance(schema.get("properties"), dict) and schema["properties"] else None


def _type_word(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    """`String`, `Integer`, ...; an object with properties (or an array of them) with its shape:
    `Array[Object{name: string, quantity: integer}]`."""
    if _object_part(spec, schema) is not None:
        shape = describe_schema(spec, schema)
        return shape[:1].upper() + shape[1:]
    return str(schema.get("type", "string")).capitalize()


def _fields_note(spec: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """`Fields: name (required): what it is; unit: the unit, one of "kg", "lb".` for a parameter that
    is an object with properties or an array of such objects."""
    found = _object_part(spec, schema)
    if found is None:
        return None
    required = set(found.get("required") or [])
    notes = []
    for name, sub in found["properties"].items():
        sub = resolve(spec, sub)
        label = f"{name} (required)" if name in required else str(name)
        about = [str(sub.get("description") or "").rstrip(".")]
        if "enum" in sub:
            about.append("one of " + ", ".join(json.dumps(v) for v in sub["enum"]))
        about = [a for a in about if a]
        notes.append(f"{label}: {', '.join(about)}" if about else label)
    return "Fields: " + "; ".join(notes) + "."


def _format_note(schema: dict[str, Any]) -> str | None:
    """`Format: date.` for a string with a format."""
    return f"Format: {schema['format']}." if isinstance(schema.get("format"), str) else None


def schema_bound(schema: dict[str, Any], side: str) -> tuple[Any, bool] | None:
    """(the lower (`side` "min") or upper ("max") bound of a number schema, whether it is exclusive):
    `minimum` with OpenAPI 3.0's boolean `exclusiveMinimum`, or JSON Schema's numeric one; None
    without a bound."""
    key, exclusive_key = ("minimum", "exclusiveMinimum") if side == "min" else ("maximum", "exclusiveMaximum")
    exclusive = schema.get(exclusive_key)
    if _is_number(exclusive):
        return exclusive, True
    if _is_number(schema.get(key)):
        return schema[key], exclusive is True
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _range_note(schema: dict[str, Any]) -> str | None:
    """`Between 1 and 100.`, `At least 1.`, `At most 5.` (`Greater than`, `Less than` when exclusive)."""
    low, high = schema_bound(schema, "min"), schema_bound(schema, "max")
    if low and high and not low[1] and not high[1]:
        return f"Between {json.dumps(low[0])} and {json.dumps(high[0])}."
    phrases = []
    if low:
        phrases.append(f"{'greater than' if low[1] else 'at least'} {json.dumps(low[0])}")
    if high:
        phrases.append(f"{'less than' if high[1] else 'at most'} {json.dumps(high[0])}")
    if not phrases:
        return None
    text = " and ".join(phrases)
    return text[:1].upper() + text[1:] + "."


def parameter_schema(spec: dict[str, Any], param: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema: its `schema`, or the schema of its `content` (the other way OpenAPI allows)."""
    if isinstance(param.get("schema"), dict):
        return resolve(spec, param["schema"])
    for media in (param.get("content") or {}).values():
        return resolve(spec, (media or {}).get("schema") or {})
    return {}


def request_body(spec: dict[str, Any], operation: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(media type, body schema) of the operation's request body, a JSON one first; None without a body."""
    content = resolve(spec, operation.get("requestBody") or {}).get("content") or {}
    return _preferred_media(spec, content)


def _preferred_media(spec: dict[str, Any], content: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The JSON media type of a `content` map if it has one, else its first; with its schema."""
    if not isinstance(content, dict) or not content:
        return None
    media = next((m for m in content if is_json_media(m)), next(iter(content)))
    return media, resolve(spec, (content[media] or {}).get("schema") or {})


def responses(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The operation's responses by status key (`"200"`, `"404"`, `"2XX"`, `"default"`), `$ref`s followed."""
    found = operation.get("responses") or {}
    if not isinstance(found, dict):
        return {}
    return {str(status): resolve(spec, r or {}) for status, r in found.items()}


def success_status(spec: dict[str, Any], operation: dict[str, Any]) -> str | None:
    """The status key of the success response: `200`, else the lowest `2xx`, `2XX` or `default`."""
    keys = list(responses(spec, operation))
    if "200" in keys:
        return "200"
    numbered = sorted(k for k in keys if k.isdigit() and k.startswith("2"))
    if numbered:
        return numbered[0]
    return next((k for k in ("2XX", "2xx", "default") if k in keys), None)


def nl_documentation(spec: dict[str, Any]) -> str:
    """The spec as text, one block per function (the form the original work's agents read)."""
    blocks = []
    for op in operations(spec):
        params: dict[str, str] = {}
        for raw in op.operation.get("parameters") or []:
            param = resolve(spec, raw)
            if "name" in param:
                params[str(param["name"])] = _parameter_line(spec, param, bool(param.get("required")))
        body = request_body(spec, op.operation)
        if body is not None:
            schema = body[1]
            for name, sub in (schema.get("properties") or {}).items():
                sub = resolve(spec, sub)
                params[name] = _parameter_line(
                    spec,
                    {"description": sub.get("description", ""), "schema": sub},
                    name in (schema.get("required") or []),
                )
        status = success_status(spec, op.operation)
        answers = responses(spec, op.operation)
        ok = answers.get(status, {}) if status else {}
        media, content = _preferred_media(spec, ok.get("content") or {}) or ("application/json", {})
        errors = [f"{code}: {r.get('description', '')}" for code, r in answers.items() if code != status]
        lines = [
            f"{op.name}: {op.operation.get('description') or op.operation.get('summary') or ''}",
            f"Parameters: {json.dumps(params, ensure_ascii=False)}",
            f"Output: {ok.get('description', '')}",
            f" - Format: {media}",
            f" - Structure: {describe_schema(spec, content)}",
        ]
        if errors:
            lines.append(f" - Errors: {'; '.join(errors)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def operation_by_name(spec: dict[str, Any], name: str) -> Operation | None:
    """The operation of the function called `name`, or None."""
    return next((op for op in operations(spec) if op.name == name), None)


@dataclass(frozen=True)
class FunctionInput:
    """One input of a function: a path, query, header or cookie parameter, or a request-body field."""

    name: str
    location: str
    required: bool
    schema: dict[str, Any]
    description: str = ""
    """A parameter's own description (a body field's is in its schema)."""


def function_inputs(spec: dict[str, Any], operation: dict[str, Any]) -> list[FunctionInput]:
    """Every input of an operation, `$ref`s inlined: what the assistant may pass and the executor checks."""
    inputs = []
    for raw in operation.get("parameters") or []:
        param = resolve(spec, raw)
        if "name" not in param:
            continue
        inputs.append(
            FunctionInput(
                name=str(param["name"]),
                location=param.get("in", "query"),
                required=bool(param.get("required")) or param.get("in") == "path",
                schema=inline_refs(spec, parameter_schema(spec, param)),
                description=str(param.get("description") or ""),
            )
        )
    body = request_body(spec, operation)  # one media type describes the body
    if body is not None:
        schema = inline_refs(spec, body[1])
        required = set(schema.get("required") or [])
        for name, sub in (schema.get("properties") or {}).items():
            inputs.append(FunctionInput(name=name, location="body", required=name in required, schema=sub))
    return inputs


def arguments_schema(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    """One JSON schema object for all of a function's inputs (descriptions left out: for decoding)."""
    return _inputs_object(function_inputs(spec, operation), described=False)


def function_tools(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec's functions as OpenAI `tools`: each a name, a description and its parameters as one
    JSON schema object (with the descriptions the spec gives)."""
    tools = []
    for op in operations(spec):
        parameters = _inputs_object(function_inputs(spec, op.operation), described=True)
        description = op.operation.get("summary") or op.operation.get("description") or ""
        function = {"name": op.name, "description": str(description), "parameters": parameters}
        tools.append({"type": "function", "function": function})
    return tools


def _inputs_object(inputs: list[FunctionInput], described: bool) -> dict[str, Any]:
    """The inputs as the properties of one object schema, with or without their descriptions."""
    properties = {}
    for item in inputs:
        schema = {k: v for k, v in item.schema.items() if described or k != "description"}
        if described and item.description and "description" not in schema:
            schema["description"] = item.description
        properties[item.name] = schema
    return {"type": "object", "properties": properties, "required": [i.name for i in inputs if i.required]}


def inline_refs(spec: dict[str, Any], schema: Any, _open: tuple[str, ...] = ()) -> Any:
    """`schema` with every local `$ref` replaced by its target (a recursive or unresolvable one by `{}`:
    anything)."""
    if isinstance(schema, list):
        return [inline_refs(spec, item, _open) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or ref in _open:
            return {}
        return inline_refs(spec, resolve(spec, {"$ref": ref}), (*_open, ref))
    return {key: inline_refs(spec, value, _open) for key, value in schema.items()}
