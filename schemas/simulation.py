"""Simulation records: the instructions the user agent writes, and the agents' structured answers.

`InstructionBatch`, `NonToolBatch`, `AssistantTurn`, `UserReply`, `FollowUp` and `ExecutorAnswer`
are structured answers asked of the LLM; `Instruction` is the row of `instructions`. The dialogue
the agents play out is a `Dialog` (`schemas/dialog.py`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.dialog import DialogType

InstructionStyle = Literal["command", "question", "story"]
Complexity = Literal["easy", "medium", "hard", "mixed"]
"""The band `--complexity` steers instructions towards (`schemas/complexity.py`); mixed steers none."""
AssistantCalls = Literal["structured", "native"]
"""How the assistant makes its calls: schema-constrained JSON (every model) or the model's own function
calling (`tools=`, for models that have it)."""
FINISH = "finish"
ASK_USER = "getDetails"
PARALLEL = "multi_tool_use.parallel"
"""The action of several calls at once (the name OpenAI's models use for it; a dot keeps it apart from
every function name, which is an identifier)."""


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


class NonToolDraft(BaseModel):
    """One request the tool cannot serve, or that needs no tool, as the user agent writes it."""

    text: str = Field(min_length=15, max_length=600, description="The request, with concrete values.")
    style: InstructionStyle = Field(
        description="A direct command, a question, or a short story with the need."
    )


class NonToolBatch(BaseModel):
    """The user agent's requests for one tool that need none of its functions."""

    instructions: list[NonToolDraft] = Field(min_length=1, max_length=20)


class Instruction(BaseModel):
    """A row of instructions.parquet."""

    instruction_id: str = Field(description="`<tool_id>-<n>`, stable across runs.")
    tool_id: str
    dialog_type: DialogType = Field(default="single", description="The kind of dialogue it is written for.")
    text: str
    style: InstructionStyle
    functions: list[str] = Field(
        description="The functions the user agent expected to be needed (none for `non_tool`)."
    )
    follow_ups: int = Field(
        default=0, ge=0, le=4, description="`multi_turn`: the follow-up requests the user will make (2 to 4)."
    )
    complexity: Complexity = Field(default="mixed", description="The band it was steered towards.")


class PlannedCall(BaseModel):
    """One call of a parallel step."""

    function: str
    arguments: dict[str, Any] = Field(default_factory=dict)


THOUGHT_LIMIT = 600
"""The most characters of a step's thought."""


class AssistantTurn(BaseModel):
    """One ReAct step of the assistant: a thought, then an action with its input, several calls at
    once (`PARALLEL`, with `calls`), or the final answer."""

    thought: str = Field(
        default="",
        max_length=THOUGHT_LIMIT,
        description="Its reasoning: the structured decoding schema asks for one; a native call may lack it.",
    )
    action: str = Field(
        description=f"A function name, {PARALLEL!r}, {ASK_USER!r} to ask the user, or {FINISH!r}."
    )
    action_input: dict[str, Any] = Field(default_factory=dict)
    calls: list[PlannedCall] = Field(default_factory=list, max_length=8)
    final_answer: str = Field(default="", max_length=1500)

    def planned_calls(self) -> list[tuple[str, dict[str, Any]]]:
        """The calls this step makes, as (function, arguments): several for a parallel step, one for
        an action (a question included), none for the final answer."""
        if self.action == PARALLEL:
            return [(call.function, call.arguments) for call in self.calls]
        return [] if self.action == FINISH else [(self.action, self.action_input)]


class UserReply(BaseModel):
    """The user's answer to the assistant's clarifying question."""

    reply: str = Field(min_length=1, max_length=600)


class FollowUp(BaseModel):
    """The user's next request in a multi-turn dialogue."""

    text: str = Field(min_length=5, max_length=600)


class ExecutorAnswer(BaseModel):
    """The simulated API's HTTP response."""

    status_code: int = Field(ge=100, le=599)
    body: dict[str, Any] = Field(default_factory=dict)
