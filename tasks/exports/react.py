"""ToolAlpaca's training text (https://github.com/tangqiaoyu/ToolAlpaca) as JSON Lines: `train.jsonl`
and `eval.jsonl`, one line per user request, `{"id", "turn", "tool_id", "prompt", "completion"}`.

The prompt is the request after the functions' documentation, as the assistant's own prompt shows
them (`agents/assistant`), and the ReAct format to answer in; the completion is what the assistant
did for it, as ReAct text (`schemas/react.py`): Thought / Action / Action Input / Observation steps
and the final answer, a clarifying question as a `getDetails` step, one step per call of a parallel
message. A multi-turn dialogue is a line per request (`turn` 0, 1, ...), whose prompt also holds the
earlier requests with their steps and answers: only the assistant's text is ever a completion. This
is the one export that keeps the assistant's thoughts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from agents.assistant.agent import documentation, offered_name
from agents.assistant.react_text import parse_actions, parse_input, react_prompt_text
from schemas.dialog import Dialog
from schemas.export import SPLITS, ExportFile, SplitName
from schemas.react import react_turns, render_turn
from schemas.simulation import ASK_USER
from schemas.tool import Tool
from tasks.exports.files import write_jsonl
from tasks.exports.source import ExportSource, offered_tools

NOTES = [
    "A line per user request: a multi-turn dialogue's later lines carry the earlier turns in their prompt."
]
"""What the export's summary says of the format."""


def react_prompt(dialog: Dialog, tools: Sequence[Tool], request: str | None = None, earlier: str = "") -> str:
    """The prompt of `dialog` for `request` (its instruction by default), after the `earlier` turns as
    ReAct text, given its offered `tools` (their records; without them, the offered functions' names
    and descriptions stand for the documentation)."""
    functions = [tool["function"] for tool in offered_tools(dialog)]
    if tools:
        name, text = offered_name(tools), documentation(tools)
    else:
        name = ", ".join(dialog.offered_tool_ids)
        text = "\n".join(f"{f['name']}: {f.get('description', '')}" for f in functions)
    request = dialog.instruction if request is None else request
    return react_prompt_text(name, text, [f["name"] for f in functions], request, earlier)


def react_lines(dialog: Dialog, tools: Sequence[Tool]) -> list[dict[str, Any]]:
    """The lines of one dialogue: one per user request."""
    turns = react_turns(dialog.messages)
    return [
        {
            "id": dialog.dialog_id,
            "turn": number,
            "tool_id": dialog.tool_id,
            "prompt": react_prompt(
                dialog, tools, turn.request, "\n".join(render_turn(t) for t in turns[:number])
            ),
            "completion": render_turn(turn, with_request=False),
        }
        for number, turn in enumerate(turns)
    ]


def read_calls(line: dict[str, Any]) -> list[tuple[str, Any]]:
    """The function calls of a line's completion, in order, as (name, arguments); questions to the
    user (`getDetails`) are not calls."""
    return [(a, parse_input(i)) for a, i in parse_actions(line["completion"]) if a != ASK_USER]


def write(source: ExportSource, folder: Path) -> list[ExportFile]:
    """`train.jsonl` and `eval.jsonl` under `folder`."""

    def lines(split: SplitName) -> Iterator[dict[str, Any]]:
        for dialog in source.dialogs(split):
            yield from react_lines(dialog, source.tools_of(dialog))

    return [write_jsonl(folder, f"{split}.jsonl", lines(split), split) for split in SPLITS]
