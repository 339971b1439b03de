"""The functions offered in a dialogue, read from its `tools` (OpenAI tools, JSON text)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=256)
def offered_functions(tools: str) -> dict[str, dict[str, Any]]:
    """The offered functions of a dialogue's `tools`, by name; cached: the dialogues of a tool share
    one text."""
    offered = {}
    for tool in json.loads(tools):
        function = tool.get("function", tool) if isinstance(tool, dict) else {}
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            offered[function["name"]] = function
    return offered
