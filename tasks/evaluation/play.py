"""The model under test plays the assistant on one case, against the simulated tool executor and the
simulated user (for its clarifying questions), as in ToolAlpaca's evaluation.

The model is asked in the format the corpus trains (`PromptFormat`): `react`, the `react` export's
prompt with the steps so far, a step read leniently from its text (`agents/assistant/react_text.py`),
a text with no readable step ending the case as a parse error; or `native`, its own function calling
(`tools=`) with the conversation as chat messages (`agents/assistant/native.py`), where an answer
whose calls do not parse is the parse error. The model is free: no decoding schema, no protocol
check, no repair; what it does is what is scored. The user's follow-ups in a case of several
requests are the reference dialogue's own, so every model answers the same requests.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from pydantic import BaseModel, Field

from agents.assistant import native
from agents.assistant.agent import ROLE as ASSISTANT_ROLE
from agents.assistant.agent import documentation, offered_name
from agents.assistant.react_text import PROMPT, STOP, UnparsedStep, react_prompt_text, read_step
from agents.executor.agent import ToolExecutor
from agents.llm.errors import LLMCallError, StructuredOutputError
from agents.llm.gateway import LLMGateway, Tally
from agents.llm.prompts import text_version
from agents.user import agent as user
from schemas.dialog import Message, ToolCall, tool_message
from schemas.evaluation import EvalCase, EvalEnding, PromptFormat
from schemas.react import react_turns, render_steps, render_turn, step_count
from schemas.simulation import ASK_USER, FINISH, AssistantTurn
from schemas.spec import function_tools
from schemas.tool import Tool

EVALUATION_STAGE = "evaluation"
REACT_TEMPLATE = f"react@{text_version(PROMPT)}"
"""The ReAct prompt's name and version, as cache keys record prompt templates."""


class PlaySettings(BaseModel):
    """How the model under test is asked."""

    prompt_format: PromptFormat = Field(
        default="react",
        description="react: the ReAct text the corpus's react export trains; native: the model's own "
        "function calling (tools=), for models that have it.",
    )
    max_steps: int = Field(default=8, ge=1, le=20, description="Actions allowed per user request.")
    step_tokens: int = Field(default=512, ge=16, description="Tokens the model may write per step.")


class Trajectory(NamedTuple):
    """What the model did on one case: the messages, how it ended, and what it cost."""

    messages: list[Message]
    ending: EvalEnding
    detail: str
    model: Tally
    simulators: Tally


def react_request(tools: list[Tool], messages: list[Message]) -> str:
    """The model's prompt at this point: the react export's prompt for the current request, then the
    steps taken for it so far (each with its observation), where the model's next step begins."""
    turns = react_turns(messages)
    earlier = "\n".join(render_turn(turn) for turn in turns[:-1])
    names = [route.name for tool in tools for route in tool.routes]
    prompt = react_prompt_text(offered_name(tools), documentation(tools), names, turns[-1].request, earlier)
    steps = turns[-1].steps
    return prompt + (render_steps(steps) + "\n" if steps else "")


def next_step(
    gateway: LLMGateway, tools: list[Tool], messages: list[Message], settings: PlaySettings, tally: Tally
) -> AssistantTurn:
    """The model's next step (UnparsedStep when its answer holds none)."""
    if settings.prompt_format == "native":
        prompt = native.native_prompt()
        functions = [f for tool in tools for f in function_tools(json.loads(tool.openapi))]
        request = [
            *prompt.render(
                name=offered_name(tools), max_steps=settings.max_steps, instruction=messages[0].content
            ),
            *native.chat_messages(messages),
        ]
        try:
            return gateway.with_tools(
                stage=EVALUATION_STAGE,
                role=ASSISTANT_ROLE,
                messages=request,
                tools=[*functions, native.ASK_TOOL],
                template=prompt.key,
                read=native.read_turn,
                tool_choice="auto",
                parallel_tool_calls=True,
                max_tokens=settings.step_tokens,
                tally=tally,
            )
        except StructuredOutputError as exc:
            raise UnparsedStep(str(exc)) from None
    text = react_request(tools, messages)
    try:
        answer = gateway.complete(
            stage=EVALUATION_STAGE,
            role=ASSISTANT_ROLE,
            messages=[{"role": "user", "content": text}],
            template=REACT_TEMPLATE,
            max_tokens=settings.step_tokens,
            stop=STOP,
            tally=tally,
            cut_ok=True,  # a step cut at the token limit is read as far as it goes
        )
    except LLMCallError as exc:
        if str(exc).startswith("IncompleteAnswer"):  # empty every time: no step
            raise UnparsedStep(str(exc)) from None
        raise
    return read_step(answer.content)


def play(
    case: EvalCase,
    tools: list[Tool],
    model: LLMGateway,
    simulators: LLMGateway,
    settings: PlaySettings,
) -> Trajectory:
    """The model (the `assistant` role of gateway `model`) on `case`, with `tools` offered (the first
    is the one the requests are for), the executor and user played on gateway `simulators`."""
    messages = [Message(role="user", content=case.turns[0].request)]
    model_tally, simulator_tally = Tally(), Tally()
    executors_by_tool = [(tool, ToolExecutor(tool, simulators)) for tool in tools]
    executors = {
        route.name: executor for tool, executor in reversed(executors_by_tool) for route in tool.routes
    }
    fallback = executors_by_tool[0][1]  # refuses a function the tools do not have, without a model call
    turn_index = 0

    def ended(ending: EvalEnding, detail: str = "") -> Trajectory:
        return Trajectory(messages, ending, detail, model_tally, simulator_tally)

    while True:
        try:
            turn = next_step(model, tools, messages, settings, model_tally)
        except UnparsedStep as exc:
            return ended("parse_error", str(exc))
        except LLMCallError as exc:
            return ended("llm_error", f"{ASSISTANT_ROLE}: {exc}")
        if turn.action == FINISH:
            messages.append(
                Message(role="assistant", content=turn.final_answer.strip(), thought=turn.thought)
            )
            turn_index += 1
            if turn_index == len(case.turns):
                return ended("final_answer")
            messages.append(Message(role="user", content=case.turns[turn_index].request))
            continue
        planned = turn.planned_calls()
        steps = step_count(messages)
        if steps + len(planned) > settings.max_steps:
            return ended("step_limit", f"it wanted more than {settings.max_steps} actions for one request")
        try:
            if turn.action == ASK_USER:
                question = str(turn.action_input.get("Question", "")) or json.dumps(turn.action_input)
                messages.append(
                    Message(role="assistant", content=question, thought=turn.thought, clarification=True)
                )
                request = react_turns(messages)[-1].request
                reply = user.answer_question(
                    simulators, tools[0], request, question, EVALUATION_STAGE, simulator_tally
                )
                messages.append(Message(role="user", content=reply, clarification=True))
                continue
            made = sum(len(m.tool_calls) for m in messages)
            calls = [
                ToolCall(
                    id=f"call_{made + n}", name=name, arguments=json.dumps(arguments, ensure_ascii=False)
                )
                for n, (name, arguments) in enumerate(planned, 1)
            ]
            messages.append(Message(role="assistant", thought=turn.thought, tool_calls=calls))
            for call in calls:
                executor = executors.get(call.name, fallback)
                answer = executor.execute(call.name, json.loads(call.arguments), tally=simulator_tally)
                messages.append(tool_message(call, answer.status_code, answer.body))
        except (StructuredOutputError, LLMCallError) as exc:
            role = "user" if turn.action == ASK_USER else "executor"
            return ended("simulator_error", f"{role}: {exc}")
