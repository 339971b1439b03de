"""Helpers for structured answers: the schema shown to a model, JSON extraction, readable errors."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def compact_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema without `title` annotations (noise for a model reading the prompt)."""
    return _strip_titles(model.model_json_schema())


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


def extract_json_object(content: str) -> dict[str, Any]:
    """The JSON object in a model's answer: bare, fenced in ``` or surrounded by prose."""
    text = _FENCE.sub("", content.strip())
    try:
        value = json.loads(text)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0:
            raise ValueError("the answer contains no JSON object") from None
        if end <= start:
            raise ValueError("the answer is not valid JSON (an object is opened but never closed)") from None
        try:
            value = json.loads(text[start : end + 1])
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
