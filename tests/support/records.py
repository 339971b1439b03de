"""Records built by hand for tests: accepted dialogues of given messages, and of `getThing` calls."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas.complexity import Band
from schemas.dialog import Dialog, DialogType, Message, ToolCall, final_answer, tool_message


def accepted_dialog(
    dialog_id: str, tool_id: str, messages: list[Message], tools: Sequence[dict[str, Any]], kind: DialogType
) -> Dialog:
    """An accepted dialogue of `tool_id` with `messages`, offered `tools` (OpenAI tools), its counts
    and final answer taken from the messages."""
    final = final_answer(messages)
    return Dialog(
        dialog_id=dialog_id,
        tool_id=tool_id,
        dialog_type=kind,
        instruction=messages[0].content,
        messages=messages,
        tools=json.dumps(list(tools)),
        tool_ids=[tool_id],
        final_answer=final.content if final else "",
        llm_calls=0,
        prompt_tokens=0,
        completion_tokens=0,
        status="accepted",
        **Dialog.counted(messages),
    )


TOOLS_JSON = json.dumps([{"type": "function", "function": {"name": "getThing", "parameters": {}}}])


def make_dialog(
    dialog_id: str,
    request: str = "find it",
    answer: str = "found it",
    *,
    calls: int = 0,
    kind: DialogType = "single",
    band: Band = "easy",
    follow_ups: tuple[str, ...] = (),
) -> Dialog:
    """An accepted dialogue: the request, `calls` calls of `getThing` (one per message), the answer,
    and each follow-up answered with `answer`."""
    messages = [Message(role="user", content=request)]
    for number in range(1, calls + 1):
        call = ToolCall(id=f"call_{number}", name="getThing", arguments=json.dumps({"n": number}))
        messages += [
            Message(role="assistant", thought=f"I call getThing {number}.", tool_calls=[call]),
            tool_message(call, 200, {"thing": number, "text": "x" * 900}),
        ]
    messages.append(Message(role="assistant", content=answer))
    for follow_up in follow_ups:
        messages += [Message(role="user", content=follow_up), Message(role="assistant", content=answer)]
    return Dialog(
        dialog_id=dialog_id,
        tool_id="things",
        dialog_type=kind,
        instruction=request,
        messages=messages,
        tools=TOOLS_JSON,
        tool_ids=["things"],
        final_answer=answer,
        complexity_band=band,
        llm_calls=0,
        prompt_tokens=0,
        completion_tokens=0,
        status="accepted",
        **Dialog.counted(messages),
    )
