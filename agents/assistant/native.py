"""The assistant with native function calling (`--assistant-calls native`): the dialogue is sent as
chat messages with `tools`, and the model's `tool_calls` are read back as the same `AssistantTurn`
the structured assistant decodes, so both make the same `Dialog` for the same decisions.

The moves (`moves.py`) become the request's function-calling options where the API has one: a
`tool_choice` of "required" while the final answer is not yet open, "none" where no call is
allowed (a non_tool dialogue), `parallel_tool_calls` only where several calls at once are the move.
What it cannot express (a dependent call's value, a repeat) is checked after, and fed back. A
clarifying question is a call of the `getDetails` function, offered beside the API's own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agents.assistant.moves import Moves, check_turn, moves_for
from agents.llm.gateway import LLMGateway, Tally, ToolAnswer
from agents.llm.prompts import PromptTemplate, load_prompt
from schemas.dialog import DialogType, Message
from schemas.simulation import ASK_USER, FINISH, PARALLEL, THOUGHT_LIMIT, AssistantTurn, PlannedCall

PROMPTS = Path(__file__).parent / "prompts"
ASK_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": ASK_USER,
        "description": "Ask the user a clarifying question when the request lacks a value you need.",
        "parameters": {
            "type": "object",
            "properties": {"Question": {"type": "string", "description": "The question to the user."}},
            "required": ["Question"],
        },
    },
}


def native_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "native.txt")


def _call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chat_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The dialogue after its first request as OpenAI chat messages: a call's result as the tool
    message `{"status_code": ..., "body": ...}`, a clarifying question as a `getDetails` call whose
    result is the user's reply."""
    chat: list[dict[str, Any]] = []
    asked = 0
    for message in messages[1:]:
        if message.role == "assistant" and message.clarification:
            asked += 1
            question = json.dumps({"Question": message.content}, ensure_ascii=False)
            chat.append(
                {
                    "role": "assistant",
                    "content": message.thought or None,
                    "tool_calls": [_call(f"ask_{asked}", ASK_USER, question)],
                }
            )
        elif message.role == "user" and message.clarification:
            chat.append({"role": "tool", "tool_call_id": f"ask_{asked}", "content": message.content})
        elif message.role == "assistant" and message.tool_calls:
            calls = [_call(c.id, c.name, c.arguments) for c in message.tool_calls]
            chat.append({"role": "assistant", "content": message.thought or None, "tool_calls": calls})
        elif message.role == "tool":
            content = f'{{"status_code": {message.status_code}, "body": {message.content}}}'
            chat.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": content})
        else:
            chat.append({"role": message.role, "content": message.content})
    return chat


def fitting_thought(reasoning: str) -> str:
    """A model's separate reasoning as a step's thought: whole when it fits the thought's bound, else
    its last paragraph (where a reasoning model concludes), else none: it is never cut mid-sentence."""
    reasoning = reasoning.strip()
    last = reasoning.rsplit("\n\n", 1)[-1].strip()
    return next((text for text in (reasoning, last) if len(text) <= THOUGHT_LIMIT), "")


def read_turn(answer: ToolAnswer) -> AssistantTurn:
    """The model's answer as an assistant step: no call is the final answer, one call an action,
    several a parallel step; a question is a `getDetails` call on its own (ValueError otherwise).

    The thought is the model's separate reasoning where it gives one; beside calls, its text is the
    thought too (what a model says while calling), the reasoning when it wrote none."""
    reasoning = fitting_thought(answer.reasoning)
    if not answer.tool_calls:
        return AssistantTurn(thought=reasoning, action=FINISH, final_answer=answer.content.strip())
    planned = []
    for call in answer.tool_calls:
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError as exc:
            raise ValueError(f"the arguments of {call.name} are not JSON: {exc}") from None
        if not isinstance(arguments, dict):
            raise ValueError(f"the arguments of {call.name} are not a JSON object")
        planned.append(PlannedCall(function=call.name, arguments=arguments))
    thought = answer.content.strip() or reasoning
    if len(planned) == 1:
        return AssistantTurn(thought=thought, action=planned[0].function, action_input=planned[0].arguments)
    if any(call.function == ASK_USER for call in planned):
        raise ValueError(f"ask the user ({ASK_USER}) on its own, not beside other calls")
    return AssistantTurn(thought=thought, action=PARALLEL, calls=planned)


def function_options(moves: Moves, functions: list[dict[str, Any]]) -> dict[str, Any]:
    """The request's tools and function-calling options for these moves."""
    tools = [*functions, *([ASK_TOOL] if moves.ask else [])]
    if not (moves.call or moves.parallel or moves.ask):
        choice = "none"
    elif moves.finish:
        choice = "auto"
    else:
        choice = "required"
    return {"tools": tools, "tool_choice": choice, "parallel_tool_calls": moves.parallel}


def next_turn(
    gateway: LLMGateway,
    name: str,
    functions: list[dict[str, Any]],
    names: list[str],
    messages: list[Message],
    *,
    role: str,
    max_steps: int,
    stage: str,
    tally: Tally | None = None,
    dialog_type: DialogType = "single",
) -> AssistantTurn:
    """The assistant's next step, asked with the `functions` (OpenAI tools; `names`) of the API or
    APIs `name` as tools (StructuredOutputError when its answer cannot be used)."""
    prompt = native_prompt()
    request = [
        *prompt.render(name=name, max_steps=max_steps, instruction=messages[0].content),
        *chat_messages(messages),
    ]
    moves = moves_for(dialog_type, messages)

    def read(answer: ToolAnswer) -> AssistantTurn:
        turn = read_turn(answer)
        check_turn(turn, names, moves)
        return turn

    return gateway.with_tools(
        stage=stage,
        role=role,
        messages=request,
        template=prompt.key,
        read=read,
        max_tokens=1000,
        tally=tally,
        **function_options(moves, functions),
    )
