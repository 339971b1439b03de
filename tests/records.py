"""Records built by hand for tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas.dialog import Dialog, DialogType, Message, final_answer


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
