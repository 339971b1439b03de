"""The assistant role: the next ReAct step for an instruction, given the dialogue so far."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agents.llm.gateway import LLMGateway, Tally
from agents.llm.prompts import PromptTemplate, load_prompt
from agents.llm.structured import bounded
from schemas.dialog import DialogType, Message
from schemas.react import ReactStep, react_steps, render_steps
from schemas.simulation import ASK_USER, FINISH, AssistantTurn
from schemas.spec import arguments_schema, operations
from schemas.tool import Tool

ROLE = "assistant"
PROMPTS = Path(__file__).parent / "prompts"
_THOUGHT = {"type": "string", "minLength": 1, "maxLength": 400}


def step_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "step.txt")


def _branch(action: str, extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"thought": _THOUGHT, "action": {"const": action}, **extra},
        "required": ["thought", "action", *required],
    }


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


def _not_empty(arguments: dict[str, Any]) -> dict[str, Any] | None:
    """`arguments` restricted to inputs with at least one parameter (None when it has none)."""
    names = list(arguments.get("properties", {}))
    if not names:
        return None
    if arguments.get("required"):
        return arguments
    return {"anyOf": [{**arguments, "required": [name]} for name in names]}


def decoding_schema(
    spec: dict[str, Any],
    answered: dict[tuple[str, str], int] | None = None,
    dialog_type: DialogType = "single",
) -> dict[str, Any]:
    """One branch per action: each function with its own arguments, a question, or the final answer.

    A function already answered for an empty input cannot be called with an empty input again (a small
    model otherwise repeats the same call until it runs out of steps); other repeats are refused by
    `check_turn`, which a grammar cannot express. In a `non_tool` dialogue the final answer is the
    only move: the request needs none of the functions.
    """
    final = {"type": "string", "maxLength": 1000}
    finish = _branch(FINISH, {"final_answer": final}, ["final_answer"])
    if dialog_type == "non_tool":
        return {"anyOf": [finish]}
    answered = answered or {}
    branches = []
    for op in operations(spec):
        name = op.name
        arguments: dict[str, Any] | None = bounded(arguments_schema(spec, op.operation))
        if (name, "{}") in answered:
            arguments = _not_empty(arguments)
            if arguments is None:
                continue
        branches.append(_branch(name, {"action_input": arguments}, ["action_input"]))
    question = {
        "type": "object",
        "properties": {"Question": {"type": "string", "minLength": 5, "maxLength": 300}},
        "required": ["Question"],
    }
    branches.append(_branch(ASK_USER, {"action_input": question}, ["action_input"]))
    branches.append(finish)
    return {"anyOf": branches}


def check_turn(
    turn: AssistantTurn,
    functions: list[str],
    answered: dict[tuple[str, str], int] | None = None,
    dialog_type: DialogType = "single",
) -> None:
    """Refuse a step whose action is neither a function, a question nor a finish (only a finish in a
    `non_tool` dialogue), or that repeats a step already answered (fed back to the model).

    An empty final answer is not refused here: the simulation files it under its own rule.
    """
    allowed = [FINISH] if dialog_type == "non_tool" else [*functions, ASK_USER, FINISH]
    if turn.action not in allowed:
        raise ValueError(f"action {turn.action!r} is not one of {allowed}")
    if turn.action == ASK_USER and not str(turn.action_input.get("Question", "")).strip():
        raise ValueError('a getDetails step needs action_input {"Question": "..."}')
    step = (answered or {}).get((turn.action, _canonical(turn.action_input)))
    if turn.action != FINISH and step is not None:
        raise ValueError(
            f"step {step} already did {turn.action} with this input and its answer is above: use it "
            "(finish with a final answer) or take a different action"
        )


def next_turn(
    gateway: LLMGateway,
    tool: Tool,
    spec: dict[str, Any],
    instruction: str,
    messages: list[Message],
    *,
    max_steps: int,
    stage: str,
    tally: Tally | None = None,
    dialog_type: DialogType = "single",
) -> AssistantTurn:
    """The assistant's next step (StructuredOutputError when its answer cannot be used). It is not
    told the dialogue's type: in a `non_tool` one the decoding schema only lets it answer."""
    prompt = step_prompt()
    steps = react_steps(messages)
    history = render_steps(steps)
    history += (
        f"\nYou have taken {len(steps)} of at most {max_steps} steps. What is your next step?"
        if steps
        else "What is your first step?"
    )
    request = prompt.render(
        name=tool.name,
        documentation=tool.nl_documentation,
        max_steps=max_steps,
        instruction=instruction,
        history=history.strip(),
    )
    functions = [r.name for r in tool.routes]
    answered = answered_actions(steps)
    return gateway.structured(
        stage=stage,
        role=ROLE,
        messages=request,
        output=AssistantTurn,
        template=prompt.key,
        check=lambda turn: check_turn(turn, functions, answered, dialog_type),
        decoding_schema=decoding_schema(spec, answered, dialog_type),
        max_tokens=700,
        tally=tally,
    )
