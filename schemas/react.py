"""Dialogues as the ReAct training text of the original work (ToolAlpaca):

Thought: ...
Action: getRecord
Action Input: {"recordId": "42"}
Observation: {"status_code": 200, "body": {...}}
...
Final Answer: ...

A clarifying question is ToolAlpaca's `getDetails` action, the user's reply its observation. ReAct
has one action per step: an assistant message with several calls is written as one step per call,
the first with the message's thought. What the assistant sees of a dialogue so far (`render_steps`)
is this text too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from schemas.dialog import Dialog, Message
from schemas.simulation import ASK_USER


def _block(thought: str, action: str, action_input: str, observation: str) -> str:
    return f"Thought: {thought}\nAction: {action}\nAction Input: {action_input}\nObservation: {observation}"


def _observation(message: Message) -> str:
    return f'{{"status_code": {message.status_code}, "body": {message.content}}}'


def step_count(messages: Sequence[Message]) -> int:
    """ReAct steps taken: one per function call, one per clarifying question."""
    return sum(1 if m.clarification else len(m.tool_calls) for m in messages if m.role == "assistant")


def render_steps(messages: Sequence[Message]) -> str:
    """The actions after the first request as Thought / Action / Action Input / Observation blocks."""
    results = {m.tool_call_id: m for m in messages if m.role == "tool"}
    blocks: list[str] = []
    for index, message in enumerate(messages):
        if message.role != "assistant":
            continue
        if message.clarification:
            reply = next((m for m in messages[index + 1 :] if m.role == "user"), None)
            question = json.dumps({"Question": message.content}, ensure_ascii=False)
            blocks.append(_block(message.thought, ASK_USER, question, reply.content if reply else ""))
            continue
        for number, call in enumerate(message.tool_calls):
            thought = message.thought if number == 0 else ""
            result = results.get(call.id)
            observation = _observation(result) if result is not None else ""
            blocks.append(_block(thought, call.name, call.arguments, observation))
    return "\n".join(blocks)


def render_react(dialog: Dialog, *, with_instruction: bool = True) -> str:
    """One dialogue as ReAct text: the instruction, its steps and the final answer."""
    parts = [dialog.instruction] if with_instruction else []
    if steps := render_steps(dialog.messages):
        parts.append(steps)
    parts.append(f"Final Answer: {dialog.final_answer}")
    return "\n".join(parts)
