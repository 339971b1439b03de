"""The assistant role: the next ReAct step for an instruction, given the steps so far."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.llm.gateway import LLMGateway, Tally
from agents.llm.prompts import PromptTemplate, load_prompt
from agents.llm.structured import bounded
from schemas.instance import ASK_USER, FINISH, AssistantTurn, Step
from schemas.tool import Tool
from tasks import openapi
from tasks.render import render_steps

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


def decoding_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """One branch per action: each function with its own arguments, a question, or the final answer."""
    branches = []
    for _, _, operation in openapi.operations(spec):
        arguments = bounded(openapi.arguments_schema(spec, operation))
        branches.append(_branch(operation["operationId"], {"action_input": arguments}, ["action_input"]))
    question = {
        "type": "object",
        "properties": {"Question": {"type": "string", "minLength": 5, "maxLength": 300}},
        "required": ["Question"],
    }
    branches.append(_branch(ASK_USER, {"action_input": question}, ["action_input"]))
    final = {"type": "string", "maxLength": 1000}
    branches.append(_branch(FINISH, {"final_answer": final}, ["final_answer"]))
    return {"anyOf": branches}


def check_turn(turn: AssistantTurn, functions: list[str]) -> None:
    """Refuse a step whose action is neither a function, a question nor a finish (fed back to the model).

    An empty final answer is not refused here: the simulation files it under its own rule.
    """
    allowed = [*functions, ASK_USER, FINISH]
    if turn.action not in allowed:
        raise ValueError(f"action {turn.action!r} is not one of {allowed}")
    if turn.action == ASK_USER and not str(turn.action_input.get("Question", "")).strip():
        raise ValueError('a getDetails step needs action_input {"Question": "..."}')


def next_turn(
    gateway: LLMGateway,
    tool: Tool,
    spec: dict[str, Any],
    instruction: str,
    steps: list[Step],
    *,
    max_steps: int,
    stage: str,
    tally: Tally | None = None,
) -> AssistantTurn:
    """The assistant's next step (StructuredOutputError when its answer cannot be used)."""
    prompt = step_prompt()
    history = render_steps(steps)
    history += "\nWhat is your next step?" if steps else "What is your first step?"
    messages = prompt.render(
        name=tool.name,
        documentation=tool.nl_documentation,
        max_steps=max_steps,
        instruction=instruction,
        history=history.strip(),
    )
    functions = [r.name for r in tool.routes]
    return gateway.structured(
        stage=stage,
        role=ROLE,
        messages=messages,
        output=AssistantTurn,
        template=prompt.key,
        check=lambda turn: check_turn(turn, functions),
        decoding_schema=decoding_schema(spec),
        max_tokens=700,
        tally=tally,
    )
