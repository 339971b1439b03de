"""A simulated dialogue as messages: the record of `dialogs` (accepted) and `rejected_dialogs`.

The messages have the shape the field uses (OpenAI chat): `user`; `assistant` with content, an
optional thought and `tool_calls` (id, function name, arguments as JSON text); `tool` with the
call's id, the function's name, the HTTP status code and the response body as JSON text. A clarifying
question of the assistant and the user's reply to it are messages too, marked `clarification` (the
ReAct rendering writes them as ToolAlpaca's `getDetails` action). Every training format (ReAct text,
OpenAI JSONL, HF/TRL, ShareGPT, BFCL) is a rendering of this one record; `schemas/react.py` is the
ReAct one.

The counts a user filters on (`turns`, `calls`, `calls_per_turn`, `distinct_functions`) are derived
from the messages by `Dialog.counted`, the one place they are computed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from schemas.rejection import FailureRule, Rejection, Step
from schemas.verdict import Layer, Verdict

DialogType = Literal["single", "parallel", "dependent", "non_tool", "multi_turn"]
"""What a dialogue is made to teach (ToolACE's kinds): `single`, a request the tool serves, with one or
more calls (ToolAlpaca's kind); `parallel`, several independent calls in one assistant message;
`dependent`, a later call taking a value from an earlier call's result; `non_tool`, a request the
tool cannot serve or that needs no tool, answered without a call (BFCL's irrelevance); `multi_turn`,
a request and 2 to 4 follow-ups, each building on the last answer. `schemas/dialog_shape.py` says
what each asks of the dialogue."""
DialogStatus = Literal["simulated", "accepted", "rejected"]
Ending = Literal[
    "final_answer", "step_limit", "assistant_unusable", "executor_unusable", "no_move_left", "not_simulated"
]
RejectionRule = Literal[
    "too_many_steps",
    "no_function_call",
    "not_parallel",
    "not_dependent",
    "tool_called_in_non_tool",
    "not_multi_turn",
    "unparseable_output",
    "no_final_answer",
    "invalid_observation",
    "bad_definition",
    "not_executable",
    "ungrounded_argument",
    "unanswered_call",
    "inconsistent_record",
    "content_free_request",
    "degenerate_repetition",
    "echo",
    "ignored_tool_results",
    "unsolvable",
    "hallucination",
    "inconsistent_answer",
    "implausible_response",
    "unjudged",
    "duplicate_request",
    FailureRule,
]
LAYER_STEPS: dict[Layer, Step] = {"rules": "checks", "judge": "judge", "dedup": "dedup"}
"""The step whose checks make each layer of verdicts."""


class ToolCall(BaseModel):
    """One function call of an assistant message."""

    id: str = Field(description="Unique within the dialogue: `call_<n>`, counted from 1.")
    name: str = Field(description="The function called.")
    arguments: str = Field(description="The arguments, as JSON text (an object).")

    def parsed_arguments(self) -> Any:
        """The arguments as a JSON value ({} when they are not JSON)."""
        try:
            return json.loads(self.arguments)
        except ValueError:
            return {}


class Message(BaseModel):
    """One message of a dialogue; the fields a role does not use stay empty."""

    role: Literal["user", "assistant", "tool"]
    content: str = Field(
        default="",
        description="user: the request or reply; assistant: the answer or question; tool: the body (JSON).",
    )
    thought: str = Field(default="", description="assistant: its reasoning before acting (ReAct's Thought).")
    tool_calls: list[ToolCall] = Field(default_factory=list, description="assistant: the calls it makes.")
    tool_call_id: str = Field(default="", description="tool: the id of the call this answers.")
    name: str = Field(default="", description="tool: the function that answered.")
    status_code: int | None = Field(default=None, description="tool: the HTTP status of the response.")
    clarification: bool = Field(
        default=False, description="An assistant's clarifying question, or the user's reply to it."
    )


def tool_message(call: ToolCall, status_code: int, body: dict[str, Any]) -> Message:
    """The tool's answer to `call`."""
    content = json.dumps(body, ensure_ascii=False)
    return Message(
        role="tool", content=content, tool_call_id=call.id, name=call.name, status_code=status_code
    )


class Dialog(BaseModel):
    """A simulated dialogue: a row of `dialogs` (accepted) or `rejected_dialogs`.

    The simulation records how the dialogue ended (`ending`, with `ending_detail`) and leaves the
    status `simulated`; the verification steps (`tasks/checks.py`, `tasks/judge.py`, `tasks/dedup.py`)
    record their `verdicts` and accept it or reject it by the rule of the first check it failed.
    """

    dialog_id: str = Field(description="The instruction's id: `<tool_id>-<n>`, stable across runs.")
    tool_id: str = Field(description="The tool the request was written for.")
    dialog_type: DialogType = "single"
    instruction: str = Field(description="The user's first request.")
    messages: list[Message]
    tools: str = Field(description="The functions offered to the assistant: OpenAI `tools`, as JSON text.")
    tool_ids: list[str] = Field(description="The tools whose functions were offered.")
    final_answer: str = Field(description="The assistant's last answer.")
    functions_used: list[str] = Field(description="Functions called, each once, in order of first call.")
    turns: int = Field(description="User requests (a reply to a clarifying question is not one).")
    calls: int = Field(description="Function calls made.")
    calls_per_turn: int = Field(description="The most calls in one assistant message.")
    distinct_functions: int
    functions_offered: int = Field(default=0, description="Functions the assistant could choose from.")
    dependency_depth: int = Field(
        default=0, description="The longest chain of calls each taking a value from the one before's result."
    )
    complexity: float = Field(default=0.0, description="The complexity score (`schemas/complexity.py`).")
    complexity_band: Literal["easy", "medium", "hard"] = "easy"
    llm_calls: int = Field(description="LLM calls the simulation made (answers from the cache included).")
    prompt_tokens: int
    completion_tokens: int
    ending: Ending = Field(default="final_answer", description="How the simulation ended.")
    ending_detail: str = Field(default="", description="What ended it, when not a final answer.")
    status: DialogStatus
    rejection_step: Step | None = Field(default=None, description="The step that rejected it.")
    rejection_rule: RejectionRule | None = None
    rejection_reason: str = ""
    verdicts: list[Verdict] = Field(
        default_factory=list,
        description="What each check said of the dialogue (rules, judge, dedup), passed or failed, in order.",
    )

    @property
    def offered_tool_ids(self) -> list[str]:
        """The tools whose functions were offered (`tool_ids`; a record without them, its own tool)."""
        return self.tool_ids or [self.tool_id]

    @model_validator(mode="after")
    def _step_of_older_record(self) -> Dialog:
        """A rejected dialogue written before it named its step: the step its ending, rule and
        verdicts show (what filed it under that step then)."""
        if self.status == "rejected" and self.rejection_step is None:
            failed = [v.layer for v in self.verdicts if not v.passed]
            if self.ending == "not_simulated":
                self.rejection_step = "simulation"
            elif failed:
                self.rejection_step = LAYER_STEPS[failed[-1]]
            else:  # a failure with no verdict: the judge's call
                self.rejection_step = "judge"
        return self

    @property
    def rejection(self) -> Rejection | None:
        """Its rejection (None unless rejected)."""
        if self.status != "rejected" or self.rejection_step is None:
            return None
        return Rejection(
            item_id=self.dialog_id,
            step=self.rejection_step,
            rule=str(self.rejection_rule),
            reason=self.rejection_reason,
        )

    def rejected(self, step: Step, rule: str, reason: str) -> Dialog:
        """This dialogue, rejected at `step` by `rule` for `reason`."""
        rejection = {"rejection_step": step, "rejection_rule": rule, "rejection_reason": reason}
        return self.model_copy(update={"status": "rejected", **rejection})

    def with_verdicts(self, verdicts: Sequence[Verdict], reject: bool = True) -> Dialog:
        """This dialogue with `verdicts` added; with `reject`, rejected by the first of them that
        failed (at the step of its layer)."""
        dialog = self.model_copy(update={"verdicts": [*self.verdicts, *verdicts]})
        failed = next((v for v in verdicts if not v.passed), None)
        if not reject or failed is None:
            return dialog
        return dialog.rejected(LAYER_STEPS[failed.layer], failed.check, failed.reason)

    @staticmethod
    def counted(messages: list[Message]) -> dict[str, Any]:
        """The counts stored with a dialogue, from its messages."""
        made = calls(messages)
        used = list(dict.fromkeys(call.name for call in made))
        return {
            "functions_used": used,
            "turns": user_turns(messages),
            "calls": len(made),
            "calls_per_turn": most_calls_in_a_message(messages),
            "distinct_functions": len(used),
        }


def calls(messages: Sequence[Message]) -> list[ToolCall]:
    """Every function call of the dialogue, in order."""
    return [call for m in messages if m.role == "assistant" for call in m.tool_calls]


def most_calls_in_a_message(messages: Sequence[Message]) -> int:
    return max((len(m.tool_calls) for m in messages if m.role == "assistant"), default=0)


def request_starts(messages: Sequence[Message]) -> list[int]:
    """Where each user request is among the messages (a reply to a clarifying question is not one)."""
    return [i for i, m in enumerate(messages) if m.role == "user" and not m.clarification]


def request_spans(messages: Sequence[Message]) -> list[tuple[int, int]]:
    """(start, end) of each user request's messages: from the request to the next one (or the end)."""
    starts = request_starts(messages)
    return list(zip(starts, [*starts[1:], len(messages)], strict=True))


def final_answer(messages: Sequence[Message]) -> Message | None:
    """The assistant's last answer among `messages` (neither a call nor a clarifying question)."""
    answers = (m for m in reversed(messages) if m.role == "assistant" and not m.tool_calls)
    return next((m for m in answers if not m.clarification), None)


def user_turns(messages: Sequence[Message]) -> int:
    """User requests: a reply to a clarifying question is not one."""
    return len(request_starts(messages))
