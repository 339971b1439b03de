"""The instruction and simulation steps: instructions for a tool, then one dialogue per instruction.

`write_instructions` and `simulate` are plain functions (tests call them directly); the tasks below
run them over a batch (several tools; one tool's instructions) for Prefect (`tasks/batch.py` says how
a batch fails and retries). The simulation only simulates: it records how each dialogue ended, and
the checks step (`tasks/checks.py`) decides what to keep.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from agents.assistant import agent as assistant
from agents.executor.agent import ROLE as EXECUTOR_ROLE
from agents.executor.agent import ToolExecutor
from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway, StructuredOutputError, Tally, gateway_for
from agents.user import agent as user
from schemas.instance import ASK_USER, FINISH, Ending, Instance, Instruction, RejectionRule, Step
from schemas.tool import Tool
from tasks.batch import Batch, batch_task, run_batch

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
    """The instructions written for one tool, or why there are none (`rule` and `problem`)."""

    tool_id: str
    instructions: list[Instruction]
    rule: str = Field(default="", description="no_instructions, llm_error or task_failed, when none.")
    problem: str = ""
    shortfall: str = Field(default="", description="Why there are fewer than asked for, if there are.")


def write_instructions(tool: Tool, gateway: LLMGateway, settings: SimulationSettings) -> ToolInstructions:
    """The user agent's instructions for one tool, with stable ids `<tool_id>-<n>`."""
    try:
        drafts, repeats = user.write_instructions(
            gateway, tool, settings.instructions_per_tool, INSTRUCTIONS_STAGE
        )
    except StructuredOutputError as exc:
        return ToolInstructions(
            tool_id=tool.tool_id, instructions=[], rule="no_instructions", problem=f"user: {exc}"
        )
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

    def finish(self, final_answer: str = "", ending: Ending = "final_answer", detail: str = "") -> Instance:
        """The simulated instance, status `simulated`: the checks step decides."""
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
            ending=ending,
            ending_detail=detail,
            status="simulated",
        )


def simulate(
    tool: Tool, instruction: Instruction, gateway: LLMGateway, settings: SimulationSettings
) -> Instance:
    """User, assistant and tool executor play out one instruction, until the assistant's final answer,
    its wish for one action more than `max_steps` allow, or an answer of a role that no repair made
    usable; the instance records which (`ending`). A failed LLM call propagates.
    """
    dialogue = _Dialogue(tool, instruction)
    spec = json.loads(tool.openapi)
    executor = ToolExecutor(tool, gateway)
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
                return dialogue.finish(turn.final_answer.strip())
            if len(dialogue.steps) >= settings.max_steps:
                return dialogue.finish(
                    ending="step_limit",
                    detail=f"the assistant wanted an action after {settings.max_steps} steps "
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
        ending: Ending = "executor_unusable" if role == EXECUTOR_ROLE else "assistant_unusable"
        return dialogue.finish(ending=ending, detail=f"{role}: {exc}")


def rejected_instance(tool: Tool, instruction: Instruction, rule: RejectionRule, reason: str) -> Instance:
    """The record of an instruction whose simulation could not run to an ending (a call or the code
    failed): rejected at once, by `rule`."""
    instance = _Dialogue(tool, instruction).finish(ending="not_simulated", detail=reason)
    verdict = {"status": "rejected", "rejection_rule": rule, "rejection_reason": reason}
    return instance.model_copy(update=verdict)


def failed_instructions(tool: Tool, reason: str, llm_failed: bool) -> ToolInstructions:
    rule = "llm_error" if llm_failed else "task_failed"
    return ToolInstructions(tool_id=tool.tool_id, instructions=[], rule=rule, problem=reason)


def write_instructions_batch(
    tools: list[Tool], gateway: LLMGateway, settings: SimulationSettings
) -> Batch[Tool, ToolInstructions]:
    """`write_instructions` over a batch of tools, one outcome each."""
    return run_batch(tools, lambda tool: write_instructions(tool, gateway, settings), failed_instructions)


def simulate_batch(
    tool: Tool, instructions: list[Instruction], gateway: LLMGateway, settings: SimulationSettings
) -> Batch[Instruction, Instance]:
    """`simulate` over instructions of one tool, one instance each (a failed one already rejected)."""

    def failed(instruction: Instruction, reason: str, llm_failed: bool) -> Instance:
        return rejected_instance(tool, instruction, "llm_error" if llm_failed else "task_failed", reason)

    return run_batch(instructions, lambda instruction: simulate(tool, instruction, gateway, settings), failed)


@batch_task("write-instructions", "instructions-{tools[0].tool_id}")
def write_instructions_task(
    tools: list[Tool], settings: SimulationSettings, llm: LLMConfig, run_id: str
) -> Batch[Tool, ToolInstructions]:
    """Prefect task: the user agent's instructions for a batch of tools."""
    return write_instructions_batch(tools, gateway_for(llm, run_id), settings)


@batch_task("simulate", "simulate-{instructions[0].instruction_id}")
def simulate_task(
    tool: Tool, instructions: list[Instruction], settings: SimulationSettings, llm: LLMConfig, run_id: str
) -> Batch[Instruction, Instance]:
    """Prefect task: instructions of one tool through the three-agent simulation."""
    return simulate_batch(tool, instructions, gateway_for(llm, run_id), settings)
