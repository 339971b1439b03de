"""The executor's decoding schema: its answer constrained to the documented statuses and bodies."""

from __future__ import annotations

from typing import Any

from agents.llm.structured import bounded
from schemas.calls import documented_statuses, plain_schema, response_schema


def decoding_schema(spec: dict[str, Any], function: str) -> dict[str, Any]:
    """The executor's answer as JSON schema: a documented status and one of the documented bodies.

    Free-form strings and arrays get decoding bounds (`bounded`), so a small model stops in time.
    """
    statuses = documented_statuses(spec, function)
    bodies: list[dict[str, Any]] = []
    for status in statuses:
        body = plain_schema(response_schema(spec, function, status))
        if body not in bodies:
            bodies.append(body)
    return {
        "type": "object",
        "properties": {"status_code": {"enum": statuses}, "body": {"anyOf": bounded(bodies)}},
        "required": ["status_code", "body"],
    }
