"""What each dialogue type asks of a dialogue's calls and turns: one definition for both ends.

The checks step (`tasks/checks.py`) rejects a dialogue that lacks its type's shape, one named rule
per lack; the assistant (`agents/assistant/moves.py`) is offered the final answer only once the
shape is there, so that on a model decoding under a grammar the lack cannot happen.

- `single`, `multi_turn`: at least one call;
- `parallel`: an assistant message with several calls;
- `dependent`: a call with an argument value found in an earlier tool result and in no user message
  (an id the first call returned, say), not one the user gave or the assistant invented;
- `non_tool`: no call;
- `multi_turn`: also at least `MIN_TURNS` user requests (the simulation plays the follow-ups).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from schemas.dialog import DialogType, Message, ToolCall, calls, most_calls_in_a_message, request_starts
from schemas.spec import function_inputs, operations

MIN_TURNS = 3
"""A multi_turn dialogue: the request and at least 2 follow-ups."""
MAX_VALUE_CHARS = 200
"""Longer result values (descriptions, texts) are not what a later call takes as an argument."""


def _scalars(value: Any) -> Iterator[str | int | float]:
    """The strings and numbers inside a JSON value (booleans and nulls are no one's id)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from _scalars(item)
    elif isinstance(value, str):
        if 2 <= len(value.strip()) <= MAX_VALUE_CHARS:
            yield value
    elif isinstance(value, float) or (
        isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 100
    ):
        yield value  # small integers (counts, limits, pages) say nothing about where a value came from


def _key(value: str | int | float) -> str:
    """Values compared as JSON text: "42" (a string) and 42 (a number) are different values."""
    return json.dumps(value, ensure_ascii=False)


def result_values(messages: Sequence[Message]) -> list[str | int | float]:
    """The values the tool results among `messages` hold that no user message mentions, in order of
    appearance, each once: what a dependent call can take from an earlier result."""
    said = "\n".join(m.content for m in messages if m.role == "user").casefold()
    found: dict[str, str | int | float] = {}
    for message in messages:
        if message.role != "tool":
            continue
        try:
            body = json.loads(message.content)
        except ValueError:
            continue
        for value in _scalars(body):
            if str(value).casefold() not in said:
                found.setdefault(_key(value), value)
    return list(found.values())


def dependent_call(messages: Sequence[Message]) -> tuple[ToolCall, str | int | float] | None:
    """The first call with an argument value from an earlier result (`result_values` of the messages
    before it), and that value; None when no call has one."""
    for index, message in enumerate(messages):
        if message.role != "assistant" or not message.tool_calls:
            continue
        earlier = result_values(messages[:index])
        if not earlier:
            continue
        for call in message.tool_calls:
            if (value := value_taken(call.parsed_arguments(), earlier)) is not None:
                return call, value
    return None


def value_taken(arguments: Any, values: Sequence[str | int | float]) -> str | int | float | None:
    """The first value inside `arguments` that is one of `values`, or None."""
    keys = {_key(v) for v in values}
    return next((value for value in _scalars(arguments) if _key(value) in keys), None)


def no_call(messages: Sequence[Message]) -> str | None:
    return None if calls(messages) else "the assistant called no function"


def not_parallel(messages: Sequence[Message]) -> str | None:
    most = most_calls_in_a_message(messages)
    if most >= 2:
        return None
    return f"a parallel dialogue makes several calls in one assistant message; the most in one was {most}"


def not_dependent(messages: Sequence[Message]) -> str | None:
    if dependent_call(messages) is not None:
        return None
    made = calls(messages)
    return (
        "a dependent dialogue's later call takes a value from an earlier call's result; "
        f"no argument of its {len(made)} call(s) is a value an earlier result gave (and no user did)"
    )


def missing_calls(dialog_type: DialogType, messages: Sequence[Message]) -> str | None:
    """What the dialogue's calls lack for its type, or None when they have its shape (a `non_tool`
    dialogue lacks nothing: its rule is about a call too many, `tool_called_in_non_tool`)."""
    if dialog_type == "non_tool":
        return None
    if problem := no_call(messages):
        return problem
    if dialog_type == "parallel":
        return not_parallel(messages)
    if dialog_type == "dependent":
        return not_dependent(messages)
    return None


def current_turn(messages: Sequence[Message]) -> Sequence[Message]:
    """The messages from the last user request on (all of them in a one-turn dialogue)."""
    starts = request_starts(messages)
    return messages[starts[-1] :] if starts else messages


def unfit_tool(dialog_type: DialogType, spec: dict[str, Any]) -> str | None:
    """Why no dialogue of `dialog_type` can have its shape with this tool (its OpenAPI spec), or None."""
    functions = operations(spec)
    taking = [op for op in functions if function_inputs(spec, op.operation)]
    if dialog_type == "dependent" and not taking:
        return "no function of the tool takes a parameter, so no call can take a value from an earlier result"
    if dialog_type == "parallel" and len(functions) < 2 and not taking:
        return (
            "the tool's one function takes no parameter, so there are no two different calls to make at once"
        )
    return None
