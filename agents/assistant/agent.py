"""The assistant role: the next ReAct step for a request, given the dialogue so far.

The moves it may make at that point (`moves.py`) become the decoding schema and the check of its
answer; the prompt (`prompts/step.txt`) shows the request, the steps taken for it, and in a
multi-turn dialogue the earlier requests with their steps and answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.assistant import native
from agents.assistant.moves import Moves, NoMoveLeft, check_turn, decoding_schema, moves_for
from agents.llm.gateway import LLMGateway, Tally
from agents.llm.prompts import PromptTemplate, load_lines, load_prompt
from schemas.dialog import DialogType, Message
from schemas.react import react_turns, render_steps, render_turn
from schemas.simulation import AssistantCalls, AssistantTurn
from schemas.spec import function_tools
from schemas.tool import Tool

__all__ = [
    "ROLE",
    "AssistantTurn",
    "Moves",
    "NoMoveLeft",
    "check_turn",
    "decoding_schema",
    "moves_for",
    "next_turn",
]

ROLE = "assistant"
PROMPTS = Path(__file__).parent / "prompts"
STEP_TOKENS = 1500
"""Room for the longest step the decoding schema allows (a 300-character thought and a 600-character
answer, or several calls): a step cut at the limit is asked again and never used, and at 700 the
embedded model's longest answers were cut three times over."""


def step_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "step.txt")


def listed_moves(dialog_type: DialogType) -> str:
    """The moves the prompt lists: every move, and several calls at once in a parallel dialogue. It
    does not say which are open at this step (the decoding schema does), nor the dialogue's type."""
    shown = ["call", *(["parallel"] if dialog_type == "parallel" else []), "ask", "finish"]
    return "\n".join(load_lines(PROMPTS / "moves.txt")[move] for move in shown)


def offered_name(tools: Sequence[Tool]) -> str:
    """The API (or the APIs) the assistant serves the user with: "Atlas", "Atlas, Dog CEO and Cat Facts"."""
    names = [tool.name for tool in tools]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def documentation(tools: Sequence[Tool]) -> str:
    """The functions' documentation: one tool's as it is, several under their names."""
    if len(tools) == 1:
        return tools[0].nl_documentation
    return "\n\n".join(f"{tool.name}:\n{tool.nl_documentation}" for tool in tools)


def _earlier(messages: list[Message]) -> str:
    """The requests before the current one, with their steps and answers ("" in a one-turn dialogue)."""
    earlier = react_turns(messages)[:-1]
    if not earlier:
        return ""
    turns = "\n\n".join(f"User request: {render_turn(turn)}" for turn in earlier)
    return f"Earlier in this conversation:\n{turns}\n\n"


def next_turn(
    gateway: LLMGateway,
    tools: Sequence[Tool],
    specs: Sequence[dict[str, Any]],
    messages: list[Message],
    *,
    max_steps: int,
    stage: str,
    tally: Tally | None = None,
    dialog_type: DialogType = "single",
    calls: AssistantCalls = "structured",
) -> AssistantTurn:
    """The assistant's next step for the current request, with the functions of `tools` (their
    OpenAPI `specs`) on offer (StructuredOutputError when its answer cannot be used): a ReAct step
    decoded under the moves' schema, or with `calls="native"` the model's own function calling
    (`native.py`)."""
    if calls == "native":
        return native.next_turn(
            gateway,
            offered_name(tools),
            [function for spec in specs for function in function_tools(spec)],
            [route.name for tool in tools for route in tool.routes],
            messages,
            role=ROLE,
            max_steps=max_steps,
            stage=stage,
            tally=tally,
            dialog_type=dialog_type,
        )
    prompt = step_prompt()
    current = react_turns(messages)[-1]
    history = render_steps(current.steps)
    history += (
        f"\nYou have taken {len(current.steps)} of at most {max_steps} steps. What is your next step?"
        if current.steps
        else "What is your first step?"
    )
    request = prompt.render(
        name=offered_name(tools),
        moves=listed_moves(dialog_type),
        documentation=documentation(tools),
        max_steps=max_steps,
        earlier=_earlier(messages),
        instruction=current.request,
        history=history.strip(),
    )
    functions = [route.name for tool in tools for route in tool.routes]
    moves = moves_for(dialog_type, messages)
    return gateway.structured(
        stage=stage,
        role=ROLE,
        messages=request,
        output=AssistantTurn,
        template=prompt.key,
        check=lambda turn: check_turn(turn, functions, moves),
        decoding_schema=decoding_schema(specs, moves),
        max_tokens=STEP_TOKENS,
        tally=tally,
    )
