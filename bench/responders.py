"""Canned, valid answers for every structured request ToolForge makes: a scripted stand-in for an LLM.

The fake server (`bench.fake_llm_server --responder bench.responders:toolforge`) and the tests use
it to drive the real pipeline without a model. Requests are told apart by the schema name the
gateway sends (`response_format.json_schema.name`, the pydantic model's class name).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_NAME = re.compile(r"^Name: (.+)$", re.MULTILINE)


def schema_name(request: dict[str, Any]) -> str:
    fmt = request.get("response_format") or {}
    return (fmt.get("json_schema") or {}).get("name", "")


def _text(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in request.get("messages", []))


def _api_name(request: dict[str, Any]) -> str:
    found = _NAME.search(_text(request))
    return found.group(1).strip() if found else "Sample API"


def _camel(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name) or ["api"]
    return "".join(w.capitalize() for w in words)


def introduction(request: dict[str, Any]) -> dict[str, Any]:
    name = _api_name(request)
    return {
        "introduction": f"{name} is a web API that gives developers programmatic access to its records. "
        "It offers search over the collection, lookup of single records by id, and returns JSON documents "
        "that are easy to use in applications, dashboards and chat assistants."
    }


def function_catalog(request: dict[str, Any]) -> dict[str, Any]:
    camel = _camel(_api_name(request))
    return {
        "functions": [
            {
                "name": f"search{camel}",
                "description": "Searches the records that match a query and returns their ids and titles.",
                "method": "GET",
                "path": "/records",
                "parameters": [
                    {
                        "name": "query",
                        "location": "query",
                        "type": "string",
                        "description": "Text to search for",
                        "required": True,
                    },
                    {
                        "name": "limit",
                        "location": "query",
                        "type": "integer",
                        "description": "Maximum number of results",
                        "required": False,
                        "default": "10",
                    },
                ],
                "response_media_type": "application/json",
                "response_description": "The matching records",
                "response_fields": [
                    {"name": "results", "type": "array", "items_type": "string", "description": "Record ids"},
                    {"name": "count", "type": "integer", "description": "Number of matches"},
                ],
                "errors": [{"status": 400, "description": "The query is empty or malformed"}],
            },
            {
                "name": f"get{camel}Record",
                "description": "Returns one record by its id, with its title and details.",
                "method": "GET",
                "path": "/records/{recordId}",
                "parameters": [
                    {
                        "name": "recordId",
                        "location": "path",
                        "type": "string",
                        "description": "Id of the record",
                        "required": True,
                    },
                ],
                "response_media_type": "application/json",
                "response_description": "The record",
                "response_fields": [
                    {"name": "id", "type": "string", "description": "Record id"},
                    {"name": "title", "type": "string", "description": "Record title"},
                    {"name": "details", "type": "string", "description": "Record details"},
                ],
                "errors": [{"status": 404, "description": "No record has that id"}],
            },
        ]
    }


RESPONDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "Introduction": introduction,
    "FunctionCatalog": function_catalog,
}


def toolforge(request: dict[str, Any]) -> str:
    """The answer to one chat-completion request body, as message content (JSON text)."""
    name = schema_name(request)
    if name not in RESPONDERS:
        raise KeyError(f"no canned answer for schema {name!r}")
    return json.dumps(RESPONDERS[name](request))
