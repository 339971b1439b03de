"""LLaMA-Factory's ShareGPT format with tools (https://github.com/hiyouga/LLaMA-Factory/blob/main/data/README.md):
`train.json` and `eval.json`, each a JSON list of rows `{"id", "conversations", "system", "tools"}`,
and `dataset_info.json`, the entries that declare them to LLaMA-Factory.

A conversation is turns `{"from", "value"}`: `human` (a request, or the reply to a clarifying
question), `gpt` (an answer, or a clarifying question), `function_call` (the value
`{"name", "arguments"}` as JSON text, or a JSON list of them for parallel calls, as LLaMA-Factory's
`FunctionFormatter` reads it) and `observation` (the results of one `function_call` turn: the result
as in the OpenAI export, `{"status_code", "body"}`, or a JSON list of them in call order). LLaMA-Factory
skips a row unless human/observation turns are at odd positions and gpt/function_call at even ones
(counted from 1), ending on an even one; the turns of a dialogue fall so by construction, and two
neighbouring human (or gpt) turns are merged. `tools` is the offered functions as JSON text, each
`{"name", "description", "parameters"}` (the form of LLaMA-Factory's own tool data). The system
message is the OpenAI export's; the assistant's thought is left out (`tasks/exports/openai.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from schemas.dialog import Dialog, Message
from schemas.export import SPLITS, ExportFile, SplitName
from tasks.exports.files import write_json, write_json_list
from tasks.exports.openai import system_prompt, tool_result
from tasks.exports.source import ExportSource, offered_tools

NOTES = [
    "The assistant's thoughts are left out (the react format keeps them); parallel calls are one "
    "function_call turn holding a JSON list, their results one observation holding a JSON list.",
]
"""What the export's summary says of the format."""
ODD = ("human", "observation")
"""Turns at odd positions (1, 3, ...); `gpt` and `function_call` are at even ones."""
DATASET_PREFIX = "toolforge"


def _observation(results: list[str]) -> dict[str, str]:
    return {"from": "observation", "value": results[0] if len(results) == 1 else f"[{', '.join(results)}]"}


def _turns(messages: list[Message]) -> Iterator[dict[str, str]]:
    results: list[str] = []
    for message in messages:
        if message.role == "tool":
            results.append(tool_result(message))
            continue
        if results:
            yield _observation(results)
            results = []
        if message.role == "user":
            yield {"from": "human", "value": message.content}
        elif message.tool_calls:
            calls = [{"name": c.name, "arguments": c.parsed_arguments()} for c in message.tool_calls]
            value = calls[0] if len(calls) == 1 else calls
            yield {"from": "function_call", "value": json.dumps(value, ensure_ascii=False)}
        else:
            yield {"from": "gpt", "value": message.content}
    if results:
        yield _observation(results)


def sharegpt_conversation(dialog: Dialog) -> list[dict[str, str]]:
    """The dialogue's turns, two neighbouring turns of one kind merged (their values a paragraph apart)."""
    merged: list[dict[str, str]] = []
    for turn in _turns(dialog.messages):
        if merged and merged[-1]["from"] == turn["from"] and turn["from"] in ("human", "gpt"):
            merged[-1] = {"from": turn["from"], "value": f"{merged[-1]['value']}\n\n{turn['value']}"}
        else:
            merged.append(turn)
    return merged


def sharegpt_row(dialog: Dialog, system: str = "") -> dict[str, Any]:
    """One row of the dataset."""
    functions = [tool.get("function", tool) for tool in offered_tools(dialog)]
    return {
        "id": dialog.dialog_id,
        "conversations": sharegpt_conversation(dialog),
        "system": system,
        "tools": json.dumps(functions, ensure_ascii=False),
    }


def _called(value: str) -> list[dict[str, Any]]:
    """The calls of a `function_call` value (ValueError when it is not one call or a list of them)."""
    parsed = json.loads(value)
    calls = parsed if isinstance(parsed, list) else [parsed]
    if not calls or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls):
        raise ValueError(f"not a function call: {value[:80]}")
    if not all(isinstance(c.get("arguments"), dict) for c in calls):
        raise ValueError(f"arguments are not a JSON object: {value[:80]}")
    return calls


def read_calls(row: dict[str, Any]) -> list[tuple[str, Any]]:
    """The function calls of a row, in order, as (name, arguments)."""
    return [
        (call["name"], call["arguments"])
        for turn in row["conversations"]
        if turn["from"] == "function_call"
        for call in _called(turn["value"])
    ]


def sharegpt_problems(row: dict[str, Any]) -> list[str]:
    """What makes LLaMA-Factory skip or fail on `row` (none: it reads it): turns at the wrong
    positions or an odd count of them, a `function_call` value that is not calls with object
    arguments, one not answered by an observation, `tools` that is not a JSON list."""
    problems = []
    turns = row.get("conversations") or []
    for number, turn in enumerate(turns, start=1):
        odd = turn.get("from") in ODD
        if odd != (number % 2 == 1) or turn.get("from") not in (*ODD, "gpt", "function_call"):
            problems.append(
                f"turn {number}: {turn.get('from')!r} at an {'odd' if number % 2 else 'even'} position"
            )
        if not isinstance(turn.get("value"), str):
            problems.append(f"turn {number}: the value is not text")
        elif turn["from"] == "function_call":
            try:
                _called(turn["value"])
            except ValueError as exc:
                problems.append(f"turn {number}: {exc}")
            if number == len(turns) or turns[number].get("from") != "observation":
                problems.append(f"turn {number}: no observation answers the function call")
    if not turns or len(turns) % 2:
        problems.append(
            f"{len(turns)} turns: LLaMA-Factory needs an even count, ending on gpt or function_call"
        )
    try:
        tools = json.loads(row.get("tools") or "[]")
    except ValueError:
        tools = None
    if not isinstance(tools, list):
        problems.append("tools is not a JSON list as text")
    if not isinstance(row.get("system", ""), str):
        problems.append("system is not text")
    return problems


def dataset_info() -> dict[str, Any]:
    """The entries of LLaMA-Factory's `dataset_info.json` for the two files (`toolforge_train`, ...)."""
    return {
        f"{DATASET_PREFIX}_{split}": {
            "file_name": f"{split}.json",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
        }
        for split in SPLITS
    }


def write(source: ExportSource, folder: Path) -> list[ExportFile]:
    """`train.json`, `eval.json` and `dataset_info.json` under `folder`."""

    def rows(split: SplitName) -> Iterator[dict[str, Any]]:
        for dialog in source.dialogs(split):
            yield sharegpt_row(dialog, system_prompt(source, dialog))

    files = [write_json_list(folder, f"{split}.json", rows(split), split) for split in SPLITS]
    return [*files, write_json(folder, "dataset_info.json", dataset_info(), rows=0)]
