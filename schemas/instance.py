"""Simulation records: instructions written by the user agent, and the instances the three agents produce.

`InstructionBatch`, `AssistantTurn`, `UserReply` and `ExecutorAnswer` are structured answers asked
of the LLM; `Instruction` and `Instance` are the rows of `instructions.parquet`, `instances.parquet`
and `rejected_instances.parquet` (both instance files share one schema).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

InstructionStyle = Literal["command", "question", "story"]
FINISH = "finish"
ASK_USER = "getDetails"


class DraftInstruction(BaseModel):
    """One user request as the user agent writes it."""

    text: str = Field(min_length=15, max_length=600, description="The request, with concrete values.")
    style: InstructionStyle = Field(
        description="A direct command, a question, or a short story with the need."
    )
    functions: list[str] = Field(min_length=1, max_length=3, description="Functions it needs, in order.")


class InstructionBatch(BaseModel):
    """The user agent's instructions for one tool."""

    instructions: list[DraftInstruction] = Field(min_length=1, max_length=20)


class Instruction(BaseModel):
    """A row of instructions.parquet."""

    instruction_id: str = Field(description="`<tool_id>-<n>`, stable across runs.")
    tool_id: str
    text: str
    style: InstructionStyle
    functions: list[str] = Field(description="The functions the user agent expected to be needed.")


class AssistantTurn(BaseModel):
    """One ReAct step of the assistant: a thought, then an action with its input, or the final answer."""

    thought: str = Field(min_length=1, max_length=600)
    action: str = Field(description=f"A function name, {ASK_USER!r} to ask the user, or {FINISH!r}.")
    action_input: dict[str, Any] = Field(default_factory=dict)
    final_answer: str = Field(default="", max_length=1500)


class UserReply(BaseModel):
    """The user's answer to the assistant's clarifying question."""

    reply: str = Field(min_length=1, max_length=600)


class ExecutorAnswer(BaseModel):
    """The simulated API's HTTP response."""

    status_code: int = Field(ge=100, le=599)
    body: dict[str, Any] = Field(default_factory=dict)


class Step(BaseModel):
    """One step of an instance: what the assistant did and what came back."""

    thought: str
    action: str
    action_input: str = Field(description="The action input as JSON text.")
    observation: str = Field(description="The tool's response (JSON text) or the user's reply.")
    observer: Literal["tool", "user"]
    status_code: int | None = Field(default=None, description="HTTP status of a tool observation.")


InstanceStatus = Literal["simulated", "accepted", "rejected"]
Ending = Literal["final_answer", "step_limit", "assistant_unusable", "executor_unusable", "not_simulated"]
RejectionRule = Literal[
    "too_many_steps",
    "no_function_call",
    "unparseable_output",
    "no_final_answer",
    "invalid_observation",
    "llm_error",
    "task_failed",
]


class Instance(BaseModel):
    """A simulated dialogue: a row of `instances` (accepted) or `rejected_instances`.

    The simulation records how the dialogue ended (`ending`, with `ending_detail`) and leaves the
    status `simulated`; the checks step (`tasks/checks.py`) accepts it or rejects it by a named rule.
    """

    instance_id: str
    tool_id: str
    instruction: str
    steps: list[Step]
    final_answer: str
    functions_used: list[str]
    step_count: int
    llm_calls: int = Field(description="LLM calls the simulation made (answers from the cache included).")
    prompt_tokens: int
    completion_tokens: int
    ending: Ending = Field(default="final_answer", description="How the simulation ended.")
    ending_detail: str = Field(default="", description="What ended it, when not a final answer.")
    status: InstanceStatus
    rejection_rule: RejectionRule | None = None
    rejection_reason: str = ""
