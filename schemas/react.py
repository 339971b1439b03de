"""Dialogues as the ReAct training text of the original work (ToolAlpaca):

Thought: ...
Action: getRecord
Action Input: {"recordId": "42"}
Observation: {"status_code": 200, "body": {...}}
...
Final Answer: ...

A clarifying question is ToolAlpaca's `getDetails` action, the user's reply its observation. ReAct
has one action per step: an assistant message with several calls is written as one step per call,
the first with the message's thought. A multi-turn dialogue is one such block per user request,
each ending in its final answer. What the assistant sees of a dialogue so far is this text too, and
`react_steps` and `react_turns` are the one reading of the messages that both use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import NamedTuple

from schemas.dialog import Dialog, Message, final_answer, request_spans
from schemas.dialog_shape import current_turn
from schemas.simulation import ASK_USER


class ReactStep(NamedTuple):
    """One ReAct step of a dialogue: an action, and what came back (None while nothing has)."""

    thought: str
    action: str
    action_input: str
    observation: str | None
    status_code: int | None = None
    """The tool's HTTP status; None for a question to the user."""


def react_steps(messages: Sequence[Message]) -> list[ReactStep]:
    """The dialogue's actions in order: one step per function call, one per clarifying question."""
    results = {m.tool_call_id: m for m in messages if m.role == "tool"}
    steps: list[ReactStep] = []
    for index, message in enumerate(messages):
        if message.role != "assistant":
            continue
        if message.clarification:
            reply = next((m for m in messages[index + 1 :] if m.role == "user"), None)
            question = json.dumps({"Question": message.content}, ensure_ascii=False)
            steps.append(ReactStep(message.thought, ASK_USER, question, reply.content if reply else None))
            continue
        for number, call in enumerate(message.tool_calls):
            thought = message.thought if number == 0 else ""
            result = results.get(call.id)
            if result is None:
                steps.append(ReactStep(thought, call.name, call.arguments, None))
                continue
            observation = f'{{"status_code": {result.status_code}, "body": {result.content}}}'
            steps.append(ReactStep(thought, call.name, call.arguments, observation, result.status_code))
    return steps


class ReactTurn(NamedTuple):
    """One user request, the steps taken for it and the final answer (None while there is none)."""

    request: str
    steps: list[ReactStep]
    final_answer: str | None


def react_turns(messages: Sequence[Message]) -> list[ReactTurn]:
    """The dialogue's turns in order: a new one starts at each user request (not at a reply to a
    clarifying question)."""
    turns: list[ReactTurn] = []
    for start, end in request_spans(messages):
        part = messages[start:end]
        final = final_answer(part)
        turns.append(ReactTurn(messages[start].content, react_steps(part), final and final.content))
    return turns


def step_count(messages: Sequence[Message]) -> int:
    """ReAct steps taken for the current request: one per function call, one per clarifying question
    (the step limit holds per request)."""
    return len(react_steps(current_turn(messages)))


def render_steps(steps: Sequence[ReactStep]) -> str:
    """The steps as Thought / Action / Action Input / Observation blocks."""
    return "\n".join(
        f"Thought: {s.thought}\nAction: {s.action}\n"
        f"Action Input: {s.action_input}\nObservation: {s.observation or ''}"
        for s in steps
    )


def render_turn(turn: ReactTurn, *, with_request: bool = True) -> str:
    """One turn as ReAct text: the request, its steps and the final answer."""
    parts = [turn.request] if with_request else []
    if turn.steps:
        parts.append(render_steps(turn.steps))
    parts.append(f"Final Answer: {turn.final_answer or ''}")
    return "\n".join(parts)


def render_react(dialog: Dialog, *, with_instruction: bool = True) -> str:
    """One dialogue as ReAct text: for each request (the instruction, then any follow-ups), its steps
    and its final answer."""
    turns = react_turns(dialog.messages)
    return "\n".join(
        render_turn(turn, with_request=with_instruction or number > 0) for number, turn in enumerate(turns)
    )
