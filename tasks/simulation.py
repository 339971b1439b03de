"""The three-agent simulation: instructions for a tool, then one instance per instruction.

`write_instructions` and `simulate` are plain functions (tests call them directly); the tasks below
wrap them for Prefect: mapped over tools, fanned out over instructions, retried on transient LLM
errors and reused across runs when nothing they depend on has changed.
"""

from __future__ import annotations

import json
from typing import Any

from prefect.context import TaskRunContext
from pydantic import BaseModel, Field

from agents.assistant import agent as assistant
from agents.executor.agent import ROLE as EXECUTOR_ROLE
from agents.executor.agent import ToolExecutor, respond_prompt
from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway, StructuredOutputError, Tally, gateway_for
from agents.user import agent as user
from schemas.instance import ASK_USER, FINISH, Instance, Instruction, RejectionRule, Step
from schemas.tool import Tool
from tasks.caching import llm_task, task_cache_key

INSTRUCTIONS_STAGE = "instructions"
SIMULATION_STAGE = "simulation"
INSTRUCTION_ROLES = (user.ROLE,)
"""The model roles the instruction stage calls."""
SIMULATION_ROLES = (assistant.ROLE, user.ROLE, EXECUTOR_ROLE)
"""The model roles the simulation calls."""


class SimulationSettings(BaseModel):
    """Knobs of the instruction and simulation stages."""

    instructions_per_tool: int = Field(default=10, ge=1, le=20)
    max_steps: int = Field(default=5, ge=1, le=20, description="Actions allowed before a final answer.")


class ToolInstructions(BaseModel):
    """The instructions written for one tool, or why there are none."""

    tool_id: str
    instructions: list[Instruction]
    problem: str = ""
    shortfall: str = Field(default="", description="Why there are fewer than asked for, if there are.")


def write_instructions(tool: Tool, gateway: LLMGateway, settings: SimulationSettings) -> ToolInstructions:
    """The user agent's instructions for one tool, with stable ids `<tool_id>-<n>`."""
    try:
        drafts, repeats = user.write_instructions(
            gateway, tool, settings.instructions_per_tool, INSTRUCTIONS_STAGE
        )
    except StructuredOutputError as exc:
        return ToolInstructions(tool_id=tool.tool_id, instructions=[], problem=f"user: {exc}")
    instructions = [
        Instruction(
            instruction_id=f"{tool.tool_id}-{n}",
            tool_id=tool.tool_id,
            text=d.text.strip(),
            style=d.style,
            functions=d.functions,
        )
        for n, d in enumerate(drafts, start=1)
    ]
    shortfall = ""
    if len(instructions) < settings.instructions_per_tool:
        shortfall = f"{len(instructions)} of {settings.instructions_per_tool} instructions"
        if repeats:
            shortfall += "; dropped as near-duplicates: " + "; ".join(repr(d.text[:80]) for d in repeats)
    return ToolInstructions(tool_id=tool.tool_id, instructions=instructions, shortfall=shortfall)


def _observation(status_code: int, body: dict[str, Any]) -> str:
    return json.dumps({"status_code": status_code, "body": body}, ensure_ascii=False)


class _Dialogue:
    """The state of one simulated instance while it runs."""

    def __init__(self, tool: Tool, instruction: Instruction) -> None:
        self.tool, self.instruction = tool, instruction
        self.steps: list[Step] = []
        self.tally = Tally()
        self.functions = [r.name for r in tool.routes]

    def functions_called(self) -> list[str]:
        """The tool's functions called so far, each once, in the order of their first call."""
        used = [s.action for s in self.steps if s.observer == "tool" and s.action in self.functions]
        return list(dict.fromkeys(used))

    def finish(self, final_answer: str = "", rule: RejectionRule | None = None, reason: str = "") -> Instance:
        return Instance(
            instance_id=self.instruction.instruction_id,
            tool_id=self.tool.tool_id,
            instruction=self.instruction.text,
            steps=self.steps,
            final_answer=final_answer,
            functions_used=self.functions_called(),
            step_count=len(self.steps),
            llm_calls=self.tally.calls,
            prompt_tokens=self.tally.prompt_tokens,
            completion_tokens=self.tally.completion_tokens,
            status="rejected" if rule else "accepted",
            rejection_rule=rule,
            rejection_reason=reason,
        )


def simulate(
    tool: Tool, instruction: Instruction, gateway: LLMGateway, settings: SimulationSettings
) -> Instance:
    """User, assistant and tool executor play out one instruction; the instance says whether it passed.

    Filters of the original work: more than `max_steps` actions, no function call (a clarification
    alone does not count), unusable assistant output at any step, no final answer. A failed LLM call
    propagates (it is no property of the instruction, so it must not be cached as a result); the
    flow records it as an `llm_error` rejection of this run.
    """
    dialogue = _Dialogue(tool, instruction)
    spec = json.loads(tool.openapi)
    executor = ToolExecutor(tool, gateway)
    final_answer = ""
    role = assistant.ROLE
    try:
        while True:
            role = assistant.ROLE
            turn = assistant.next_turn(
                gateway,
                tool,
                spec,
                instruction.text,
                dialogue.steps,
                max_steps=settings.max_steps,
                stage=SIMULATION_STAGE,
                tally=dialogue.tally,
            )
            if turn.action == FINISH:
                final_answer = turn.final_answer.strip()
                break
            if len(dialogue.steps) >= settings.max_steps:
                return dialogue.finish(
                    rule="too_many_steps",
                    reason=f"the assistant wanted an action after {settings.max_steps} steps "
                    f"(at most {settings.max_steps} allowed)",
                )
            action_input = json.dumps(turn.action_input, ensure_ascii=False)
            if turn.action == ASK_USER:
                role = user.ROLE
                reply = user.answer_question(
                    gateway,
                    tool,
                    instruction.text,
                    str(turn.action_input.get("Question", "")),
                    SIMULATION_STAGE,
                    dialogue.tally,
                )
                dialogue.steps.append(
                    Step(
                        thought=turn.thought,
                        action=turn.action,
                        action_input=action_input,
                        observation=reply,
                        observer="user",
                    )
                )
                continue
            role = EXECUTOR_ROLE
            answer = executor.execute(turn.action, turn.action_input, tally=dialogue.tally)
            dialogue.steps.append(
                Step(
                    thought=turn.thought,
                    action=turn.action,
                    action_input=action_input,
                    observation=_observation(answer.status_code, answer.body),
                    observer="tool",
                    status_code=answer.status_code,
                )
            )
    except StructuredOutputError as exc:
        rule: RejectionRule = "invalid_observation" if role == EXECUTOR_ROLE else "unparseable_output"
        return dialogue.finish(rule=rule, reason=f"{role}: {exc}")

    if not dialogue.functions_called():
        return dialogue.finish(
            final_answer, rule="no_function_call", reason="the assistant called no function"
        )
    if not final_answer:
        return dialogue.finish(rule="no_final_answer", reason="the final answer is empty")
    return dialogue.finish(final_answer)


def rejected_instance(tool: Tool, instruction: Instruction, rule: RejectionRule, reason: str) -> Instance:
    """The record of an instruction whose simulation never produced an instance (its task failed)."""
    return _Dialogue(tool, instruction).finish(rule=rule, reason=reason)


def _prompt_keys() -> list[str]:
    return [
        user.instructions_prompt().key,
        user.reply_prompt().key,
        assistant.step_prompt().key,
        respond_prompt().key,
    ]


def instructions_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
    inputs = {"tool": parameters["tool"].model_dump(), "settings": parameters["settings"].model_dump()}
    return task_cache_key("instructions", parameters["llm"], inputs, [user.instructions_prompt().key])


def instance_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
    inputs = {
        "tool": parameters["tool"].model_dump(),
        "instruction": parameters["instruction"].model_dump(),
        "settings": parameters["settings"].model_dump(),
    }
    return task_cache_key("instance", parameters["llm"], inputs, _prompt_keys())


@llm_task("write-instructions", "instructions-{tool.tool_id}", instructions_cache_key)
def write_instructions_task(
    tool: Tool, settings: SimulationSettings, llm: LLMConfig, run_id: str
) -> ToolInstructions:
    """Prefect task: the user agent's instructions for one tool."""
    return write_instructions(tool, gateway_for(llm, run_id), settings)


@llm_task("simulate-instance", "instance-{instruction.instruction_id}", instance_cache_key)
def simulate_task(
    tool: Tool, instruction: Instruction, settings: SimulationSettings, llm: LLMConfig, run_id: str
) -> Instance:
    """Prefect task: one instruction through the three-agent simulation."""
    return simulate(tool, instruction, gateway_for(llm, run_id), settings)
