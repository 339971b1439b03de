"""Helpers for structured answers: the schema shown to a model, JSON extraction, readable errors."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def compact_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema without `title` annotations (noise for a model reading the prompt)."""
    return json.loads(_compact_schema_text(model))


@functools.cache
def _compact_schema_text(model: type[BaseModel]) -> str:
    # pydantic builds a JSON schema in milliseconds of CPU: once per class, not once per call
    return json.dumps(_strip_titles(model.model_json_schema()))


def _strip_titles(node: Any, *, in_properties: bool = False) -> Any:
    if isinstance(node, dict):
        return {
            key: _strip_titles(value, in_properties=(key in {"properties", "$defs"} and not in_properties))
            for key, value in node.items()
            if in_properties or key != "title"
        }
    if isinstance(node, list):
        return [_strip_titles(item) for item in node]
    return node


def bounded(schema: Any, *, max_string: int = 200, max_items: int = 5) -> Any:
    """`schema` with a length bound on every free-form string and a count bound on every array.

    For decoding only: a small model under a grammar otherwise fills an unbounded string or array
    until it runs out of tokens. Strings with an enum, a pattern or a format keep their own limits.
    """
    if isinstance(schema, list):
        return [bounded(item, max_string=max_string, max_items=max_items) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bounded(v, max_string=max_string, max_items=max_items) for k, v in schema.items()}
    if "properties" in schema:
        out["properties"] = {
            name: bounded(sub, max_string=max_string, max_items=max_items)
            for name, sub in schema["properties"].items()
        }
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    free = not ({"enum", "const", "pattern", "format"} & set(schema))
    if "string" in kinds and free:
        out["maxLength"] = min(schema.get("maxLength", max_string), max_string)
    if "array" in kinds:
        out["maxItems"] = min(schema.get("maxItems", max_items), max_items)
        out["minItems"] = min(schema.get("minItems", 0), out["maxItems"])
    return out


def extract_json_object(content: str) -> dict[str, Any]:
    """The JSON object in a model's answer: bare, fenced in ``` or surrounded by prose."""
    text = _FENCE.sub("", content.strip())
    try:
        value = json.loads(text, strict=False)  # tolerate raw newlines and tabs inside strings
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0:
            raise ValueError("the answer contains no JSON object") from None
        if end <= start:
            raise ValueError("the answer is not valid JSON (an object is opened but never closed)") from None
        try:
            value = json.loads(text[start : end + 1], strict=False)
        except ValueError as exc:
            raise ValueError(f"the answer is not valid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(value, dict):
        raise ValueError(f"the answer is JSON {type(value).__name__}, not an object")
    return value


def describe_error(exc: Exception, limit: int = 6) -> str:
    """One line per problem, `field.path: message`, at most `limit` of them."""
    if isinstance(exc, ValidationError):
        lines = [
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()[:limit]
        ]
        more = exc.error_count() - limit
        if more > 0:
            lines.append(f"... and {more} more")
        return "; ".join(lines)
    return str(exc)
