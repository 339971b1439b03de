"""The eval split as a Berkeley Function Calling Leaderboard (BFCL) test set, named as BFCL v4 names
its files: `BFCL_v4_<category>.json` (JSON Lines: `{"id": "<category>_<n>", "question":
[[{"role": "user", "content"}]], "function": [...]}`) and `possible_answer/BFCL_v4_<category>.json`
(`{"id", "ground_truth": [{function: {parameter: [allowed values]}}]}`).

BFCL is a benchmark: only the eval split is written, the train split is not. A dialogue's category
comes from its type, its calls and the functions it was offered (`bfcl_category`): `simple_python`
(one call, one function offered), `multiple` (one call, several offered), `parallel` (several calls
in one message, one offered), `parallel_multiple` (several calls, several offered) and `irrelevance`
(a `non_tool` dialogue: no call; BFCL has no possible answer for it). A dialogue BFCL cannot hold
(`dependent`, `multi_turn`, one with a clarifying question or with calls in several messages) is
left out. `write` leaves `source.counts` as the export's summary reads it: `eval` the dialogues
written, `straddling` as ever, `not_in_format` the eval dialogues left out and every train one (the
train side is read only to be counted), no `train`.

Functions take BFCL's types (`dict` for objects, `float` for numbers); an allowed value is the
value called (a number as a float where the parameter is one; an object's fields, and those of a list
of objects, each wrapped in a list, as BFCL writes them), and `""` where an optional parameter was
left out or given its default (`schemas/call_accuracy.py` holds these rules, and BFCL's check of
calls against them). A string argument given as `""` reads back as left out: BFCL's notation cannot
tell the two apart.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from schemas.call_accuracy import bfcl_function, ground_truth
from schemas.dialog import Dialog, calls, user_turns
from schemas.export import ExportFile
from tasks.exports.files import atomic_file, file_info
from tasks.exports.source import ExportSource, offered_tools

Category = Literal["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]
CATEGORIES: tuple[Category, ...] = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
)
VERSION_PREFIX = "BFCL_v4"
ANSWERS = "possible_answer"
NOTES = [
    "BFCL: only the eval split is written (BFCL is a benchmark); the train split's dialogues are not "
    "exported and are counted with those left out (not_in_format)."
]


def file_name(category: str) -> str:
    """BFCL's name for a category's file (of questions; of possible answers in `possible_answer/`)."""
    return f"{VERSION_PREFIX}_{category}.json"


def bfcl_category(dialog: Dialog) -> Category | None:
    """The BFCL category of a dialogue; None when BFCL cannot hold it."""
    messages = dialog.messages
    if dialog.dialog_type in ("dependent", "multi_turn") or user_turns(messages) != 1:
        return None
    if any(m.clarification for m in messages):
        return None
    acting = [m for m in messages if m.role == "assistant" and m.tool_calls]
    if dialog.dialog_type == "non_tool":
        return "irrelevance" if not acting else None
    if len(acting) != 1:
        return None
    several = len(offered_tools(dialog)) > 1
    if len(acting[0].tool_calls) == 1:
        return "multiple" if several else "simple_python"
    return "parallel_multiple" if several else "parallel"


def called_value(allowed: Any) -> Any:
    """The value called, from a possible answer's allowed value (`allowed_value` undone)."""
    if isinstance(allowed, dict):
        return {key: items[0] for key, items in allowed.items()}
    if isinstance(allowed, list) and allowed and all(isinstance(item, dict) for item in allowed):
        return [called_value(item) for item in allowed]
    return allowed


def question_row(dialog: Dialog, bfcl_id: str) -> dict[str, Any]:
    """A dialogue's BFCL question: its request and the functions it was offered."""
    functions = [bfcl_function(tool) for tool in offered_tools(dialog)]
    return {
        "id": bfcl_id,
        "question": [[{"role": "user", "content": dialog.instruction}]],
        "function": functions,
    }


def answer_row(dialog: Dialog, bfcl_id: str) -> dict[str, Any]:
    """A dialogue's BFCL possible answer: each call of its one acting message, in order."""
    functions = {f["name"]: f for f in (bfcl_function(tool) for tool in offered_tools(dialog))}
    made = calls(dialog.messages)
    return {"id": bfcl_id, "ground_truth": [ground_truth(call, functions.get(call.name)) for call in made]}


def entries(dialogs: Iterable[Dialog], counts: dict[str, int] | None = None) -> Iterator[tuple[str, Dialog]]:
    """(BFCL id, dialogue) for each dialogue BFCL can hold, numbered from 0 per category in order; each
    one left out is counted in `counts["not_in_format"]`."""
    numbers: dict[str, int] = {}
    for dialog in dialogs:
        category = bfcl_category(dialog)
        if category is None:
            if counts is not None:
                counts["not_in_format"] = counts.get("not_in_format", 0) + 1
            continue
        number = numbers.get(category, 0)
        numbers[category] = number + 1
        yield f"{category}_{number}", dialog


def category_of(bfcl_id: str) -> str:
    """The category of a BFCL id (`parallel_multiple_3` -> `parallel_multiple`)."""
    return bfcl_id.rsplit("_", 1)[0]


def write(source: ExportSource, folder: Path) -> list[ExportFile]:
    """The eval split's questions and possible answers, one file of each per category that has a
    dialogue (streamed: each file is opened at its first line); `source.counts` as the module says."""
    handles: dict[str, IO[bytes]] = {}
    rows: dict[str, int] = {}
    left_out: dict[str, int] = {}
    with contextlib.ExitStack() as stack:

        def line(name: str, row: dict[str, Any]) -> None:
            if name not in handles:
                handles[name] = stack.enter_context(atomic_file(folder / name))
            handles[name].write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
            rows[name] = rows.get(name, 0) + 1

        for bfcl_id, dialog in entries(source.dialogs("eval"), left_out):
            category = category_of(bfcl_id)
            line(file_name(category), question_row(dialog, bfcl_id))
            if category != "irrelevance":
                line(f"{ANSWERS}/{file_name(category)}", answer_row(dialog, bfcl_id))
    for _ in source.dialogs("train"):  # counted (train, straddling), not written
        pass
    counts, skipped = source.counts, left_out.get("not_in_format", 0)
    counts["eval"] = counts.get("eval", 0) - skipped
    counts["not_in_format"] = counts.get("not_in_format", 0) + skipped + counts.pop("train", 0)
    return [file_info(folder, folder / name, rows[name], "eval") for name in sorted(rows)]


def read_calls(folder: Path) -> dict[str, list[tuple[str, Any]]]:
    """The calls of each question of a written test set, by id, from its possible answers (the value
    called of each parameter; none for `irrelevance`): what `calls_of` gives for the dialogue."""
    found: dict[str, list[tuple[str, Any]]] = {}
    for category in CATEGORIES:
        questions = folder / file_name(category)
        if questions.exists():
            found.update((json.loads(text)["id"], []) for text in questions.read_text("utf-8").splitlines())
        answers = folder / ANSWERS / file_name(category)
        if not answers.exists():
            continue
        for text in answers.read_text(encoding="utf-8").splitlines():
            row = json.loads(text)
            found[row["id"]] = [
                (name, {p: called_value(v[0]) for p, v in allowed.items() if v[0] != ""})
                for truth in row["ground_truth"]
                for name, allowed in truth.items()
            ]
    return found
