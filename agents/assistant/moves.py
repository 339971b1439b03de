"""The protocol of a dialogue, as the moves the assistant may make next: one `Moves` both turns into
the decoding schema (on a model decoding under a grammar, a wrong move cannot be written) and checks
the answer (for models that only read the schema, a wrong move is fed back).

What is known before decoding is in the moves:
- the final answer is offered only once the dialogue has its type's calls (`schemas/dialog_shape`),
  and it is the only move of a `non_tool` dialogue;
- a parallel dialogue's first call is a message of several calls (`PARALLEL`);
- a dependent dialogue's call after a result takes one argument from the values results gave;
- one clarifying question per dialogue: an answered question cannot be asked again;
- a function answered for an empty input cannot be called with an empty input again.
Other repeats (the same call with the same input) are refused by `check_turn`, which a grammar
cannot express.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.llm.structured import bounded
from schemas.dialog import DialogType, Message
from schemas.dialog_shape import dependent_call, missing_calls, result_values, value_taken
from schemas.react import ReactStep, react_steps
from schemas.simulation import ASK_USER, FINISH, PARALLEL, AssistantTurn
from schemas.spec import arguments_schema, operations

_THOUGHT = {"type": "string", "minLength": 1, "maxLength": 300}
FINAL_ANSWER_CHARS = 600
"""Decoding bounds: a small model under a grammar writes a string until its bound, so the bound, not
the token limit, is what ends its answer (an answer cut at the token limit is lost)."""
MAX_PARALLEL = 4
"""Calls in one parallel message, at most (decoding bound)."""
MAX_VALUES = 16
"""Earlier result values offered to a dependent call, at most (the grammar grows with them)."""


class NoMoveLeft(Exception):
    """The protocol leaves the assistant nothing to do (the dialogue cannot get its type's shape)."""


@dataclass(frozen=True)
class Moves:
    """What the assistant may do next."""

    call: bool = True
    """Call one function."""
    parallel: bool = False
    """Call several functions in one message (and nothing else but a question)."""
    ask: bool = True
    finish: bool = True
    depend_on: list[str | int | float] = field(default_factory=list)
    """When not empty, a call must take one argument from these values (earlier results)."""
    answered: dict[tuple[str, str], int] = field(default_factory=dict)
    """(action, input as canonical JSON) -> step number of every step that got its answer."""

    def actions(self, functions: Sequence[str]) -> list[str]:
        return [
            *(functions if self.call else []),
            *([PARALLEL] if self.parallel else []),
            *([ASK_USER] if self.ask else []),
            *([FINISH] if self.finish else []),
        ]


def moves_for(dialog_type: DialogType, messages: Sequence[Message]) -> Moves:
    """The moves the protocol of `dialog_type` allows after `messages`."""
    answered = answered_actions(react_steps(messages))
    if dialog_type == "non_tool":
        return Moves(call=False, ask=False, answered=answered)
    asked = any(m.clarification for m in messages if m.role == "assistant")
    done = missing_calls(dialog_type, messages) is None
    if dialog_type == "parallel" and not done and not any(len(m.tool_calls) > 1 for m in messages):
        return Moves(call=False, parallel=True, ask=not asked, finish=False, answered=answered)
    depend_on: list[str | int | float] = []
    if dialog_type == "dependent" and dependent_call(messages) is None:
        depend_on = result_values(messages)[:MAX_VALUES]
    return Moves(ask=not asked, finish=done, depend_on=depend_on, answered=answered)


def answered_actions(steps: list[ReactStep]) -> dict[tuple[str, str], int]:
    """(action, input as canonical JSON) -> step number, for every step that got its answer: a 2xx
    tool response or the user's reply. Doing the same again can only bring the same answer."""
    answered: dict[tuple[str, str], int] = {}
    for number, step in enumerate(steps, 1):
        if step.observation is None:
            continue
        if step.status_code is None or 200 <= step.status_code < 300:
            answered.setdefault((step.action, _canonical(step.action_input)), number)
    return answered


def _canonical(action_input: str | dict[str, Any]) -> str:
    try:
        value = json.loads(action_input) if isinstance(action_input, str) else action_input
    except ValueError:
        return str(action_input)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _branch(action: str, extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"thought": _THOUGHT, "action": {"const": action}, **extra},
        "required": ["thought", "action", *required],
    }


def _not_empty(arguments: dict[str, Any]) -> dict[str, Any] | None:
    """`arguments` restricted to inputs with at least one parameter (None when it has none)."""
    names = list(arguments.get("properties", {}))
    if not names:
        return None
    if arguments.get("required"):
        return arguments
    return {"anyOf": [{**arguments, "required": [name]} for name in names]}


_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "integer": int, "number": (int, float)}


def _taking_one_of(arguments: dict[str, Any], values: list[str | int | float]) -> dict[str, Any] | None:
    """`arguments` restricted to inputs where one parameter takes one of `values` (those of its type):
    one variant per parameter that can; None when none can."""
    variants = []
    for name, schema in arguments.get("properties", {}).items():
        kind = _TYPES.get(str(schema.get("type")))
        fitting = [v for v in values if kind and isinstance(v, kind) and not isinstance(v, bool)]
        if not fitting:
            continue
        required = list(dict.fromkeys([*arguments.get("required", []), name]))
        properties = {**arguments["properties"], name: {"enum": fitting}}
        variants.append({**arguments, "properties": properties, "required": required})
    if not variants:
        return None
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def _call_arguments(specs: Sequence[dict[str, Any]], moves: Moves) -> dict[str, dict[str, Any]]:
    """Each function that may be called now, with the schema of the arguments it may take."""
    found: dict[str, dict[str, Any]] = {}
    for spec, op in [(one, op) for one in specs for op in operations(one)]:
        # no parameter but the function's own: an open object lets a small model write keys forever
        arguments: dict[str, Any] | None = {
            **bounded(arguments_schema(spec, op.operation)),
            "additionalProperties": False,
        }
        if (op.name, "{}") in moves.answered:
            arguments = _not_empty(arguments)
        if arguments is not None:
            found[op.name] = arguments
    if moves.depend_on:
        taking = {name: _taking_one_of(arguments, moves.depend_on) for name, arguments in found.items()}
        if any(taking.values()):  # else no parameter can take the values: calls stay open, the rule judges
            return {name: arguments for name, arguments in taking.items() if arguments is not None}
    return found


def decoding_schema(specs: Sequence[dict[str, Any]], moves: Moves) -> dict[str, Any]:
    """One branch per move: each function of the tools' OpenAPI `specs` with its own arguments,
    several calls at once, a question, or the final answer (NoMoveLeft when there is none: every
    function answered for its only, empty input, and the final answer not yet open)."""
    branches = []
    callable_now = _call_arguments(specs, moves) if moves.call or moves.parallel else {}
    if moves.call:
        for name, arguments in callable_now.items():
            branches.append(_branch(name, {"action_input": arguments}, ["action_input"]))
    if moves.parallel:
        one = [
            {
                "type": "object",
                "properties": {"function": {"const": name}, "arguments": arguments},
                "required": ["function", "arguments"],
            }
            for name, arguments in callable_now.items()
        ]
        several = {"type": "array", "items": {"anyOf": one}, "minItems": 2, "maxItems": MAX_PARALLEL}
        branches.append(_branch(PARALLEL, {"calls": several}, ["calls"]))
    if moves.ask:
        question = {
            "type": "object",
            "properties": {"Question": {"type": "string", "minLength": 5, "maxLength": 300}},
            "required": ["Question"],
        }
        branches.append(_branch(ASK_USER, {"action_input": question}, ["action_input"]))
    if moves.finish:
        final = {"type": "string", "maxLength": FINAL_ANSWER_CHARS}
        branches.append(_branch(FINISH, {"final_answer": final}, ["final_answer"]))
    if not branches:
        raise NoMoveLeft("no move is open to the assistant: every call it could make was answered")
    return {"anyOf": branches}


def check_turn(turn: AssistantTurn, functions: list[str], moves: Moves) -> None:
    """Refuse a step that is not one of the moves, or that repeats a step already answered (the
    problem is fed back to the model).

    An empty final answer is not refused here: the checks step files it under its own rule.
    """
    allowed = moves.actions(functions)
    if turn.action not in allowed:
        raise ValueError(f"action {turn.action!r} is not one of {allowed}")
    if turn.action == ASK_USER and not str(turn.action_input.get("Question", "")).strip():
        raise ValueError('a getDetails step needs action_input {"Question": "..."}')
    if turn.action == PARALLEL:
        if len(turn.calls) < 2:
            raise ValueError(f"a {PARALLEL} step makes at least 2 calls; it has {len(turn.calls)}")
        unknown = [c.function for c in turn.calls if c.function not in functions]
        if unknown:
            raise ValueError(f"calls of {unknown}: not functions of this API; choose from {functions}")
    for action, action_input in turn.planned_calls():
        step = moves.answered.get((action, _canonical(action_input)))
        if step is not None:
            raise ValueError(
                f"step {step} already did {action} with this input and its answer is above: use it "
                "(finish with a final answer) or take a different action"
            )
    if (
        moves.depend_on
        and turn.action in functions
        and value_taken(turn.action_input, moves.depend_on) is None
    ):
        shown = ", ".join(json.dumps(v, ensure_ascii=False) for v in moves.depend_on[:8])
        raise ValueError(f"this call takes one of its arguments from an earlier result: one of {shown}")
