"""Evaluation records: the cases a model is evaluated on, its result on each, and its scores.

An `EvalCase` is one held-out task with its golden reference: the user's requests (the first one, and
in a multi-turn case the follow-ups the reference dialogue had), and per request the golden steps
(ToolAlpaca's `{"Action", "Action_Input"}`, a clarifying question as `getDetails`). Cases come from a
run's eval split (its accepted dialogues on held-out tools) or from a file in ToolAlpaca's published
evaluation format. An `EvalResult` is a row of `results.parquet`: what the model under test did on
one case (its trajectory as dialogue messages), the error kinds the rules found, BFCL-style call
accuracy, the rule procedure verdict (ToolAlpaca's written criteria) and the judge's verdicts.
`ModelScores` is a row of the side-by-side table.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from schemas.dialog import DialogType, Message
from schemas.rejection import Rejection
from schemas.simulation import ASK_USER
from schemas.tool import Tool

EvalSource = Literal["run", "toolalpaca"]
PromptFormat = Literal["react", "native"]
"""How the model under test is asked: ReAct text (the `react` export's prompt, the model writes
Thought / Action / Action Input or Final Answer; ToolAlpaca's format) or its own function calling."""
ErrorKind = Literal[
    "parse_error", "wrong_action", "redundant_action", "input_error", "illusory_input", "wrong_answer"
]
ERROR_KINDS: tuple[ErrorKind, ...] = (
    "parse_error",
    "wrong_action",
    "redundant_action",
    "input_error",
    "illusory_input",
    "wrong_answer",
)
"""ToolAlpaca's six error kinds (its Table 3), in its order."""
Judgement = Literal["Yes", "No", "Uncertain", "unjudged"]
"""The judge's verdict (ToolAlpaca's three), or `unjudged` when the judge is off or gave no usable answer."""
EvalEnding = Literal["final_answer", "parse_error", "step_limit", "llm_error", "simulator_error"]
"""How the model's play of a case ended: its last final answer; text with no readable step; more actions
for one request than allowed; a call of the model that failed; a failure of the simulated user or tool
executor (not the model's doing, but the case has no final answer all the same)."""


class GoldenStep(BaseModel):
    """One action of the golden answer: a function call, or `getDetails` (a question to the user)."""

    action: str
    action_input: str = Field(default="{}", description="As the reference wrote it: JSON text, mostly.")

    def arguments(self) -> dict[str, Any]:
        """The input as a JSON object ({} when it is not one)."""
        try:
            value = json.loads(self.action_input)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def is_call(self) -> bool:
        return self.action != ASK_USER


class GoldenTurn(BaseModel):
    """One user request of a case and its golden steps (and the reference's final answer, if any)."""

    request: str
    steps: list[GoldenStep] = Field(default_factory=list)
    final_answer: str = ""


class EvalCase(BaseModel):
    """One held-out task: the requests, the tools offered, and the golden answer."""

    case_id: str = Field(description="The reference dialogue's id, or `<tool>-<n>` for an imported file.")
    source: EvalSource
    tool_ids: list[str] = Field(description="The tools offered; the first is the one the request is for.")
    dialog_type: DialogType = "single"
    turns: list[GoldenTurn] = Field(min_length=1, description="The first request, then any follow-ups.")

    def golden_calls(self) -> list[GoldenStep]:
        """Every golden function call, in order (questions to the user left out)."""
        return [step for turn in self.turns for step in turn.steps if step.is_call]


Verdict = Literal["Yes", "No", "Uncertain"]


class TrajectoryJudgement(BaseModel):
    """The judge's answer on one trajectory (its decoding schema too), with ToolAlpaca's criteria."""

    analysis: str = Field(max_length=600, description="The steps compared with the standard answer, briefly.")
    process: Verdict = Field(description="Process correctness: the calls are right by the standard answer.")
    response: Verdict = Field(
        description="Final response correctness: it answers the request from the results."
    )


CaseRejectRule = Literal["unknown_tool", "invalid_tool", "invalid_case"]
"""Why a case of the eval source cannot be evaluated (a `Rejection` of step `eval_set`): it offers a
tool with no record, its tool's spec cannot be used, or the case itself is malformed."""


def rejected_case(case_id: str, rule: CaseRejectRule, reason: str) -> Rejection:
    """The rejection of a case of the eval source that cannot be evaluated."""
    return Rejection(item_id=case_id, step="eval_set", rule=rule, reason=reason)


def _conformed_cases(cases: Any) -> Any:
    """Rejected cases as an evaluation written before the shared vocabulary holds them too (a case
    id and a reason), the rule read from the reason as the readers wrote it then."""
    if not isinstance(cases, list):
        return cases
    return [
        rejected_case(case["case_id"], _legacy_case_rule(str(case["reason"])), case["reason"])
        if isinstance(case, dict) and "case_id" in case
        else case
        for case in cases
    ]


def _legacy_case_rule(reason: str) -> CaseRejectRule:
    """The rule of a case rejected before rejections named one: `offers tools with no record ...`
    (a run's eval split), `tool '<name>': ...` (a ToolAlpaca file's tool), else the case itself."""
    if reason.startswith("offers tools with no record"):
        return "unknown_tool"
    return "invalid_tool" if reason.startswith("tool '") else "invalid_case"


class EvalSet(BaseModel):
    """What an eval source gives: the cases, the records of the tools they offer, and the cases that
    cannot be evaluated (each with its reason: nothing is dropped unsaid)."""

    cases: list[EvalCase]
    tools: dict[str, Tool] = Field(description="tool_id -> the tool's record.")
    rejected: list[Rejection] = Field(default_factory=list, description="Rejections of step eval_set.")
    repairs: dict[str, list[str]] = Field(
        default_factory=dict,
        description="tool_id -> what was repaired in its spec before validation (ToolAlpaca files).",
    )


class ErrorFound(BaseModel):
    """One error the rules found in a trajectory."""

    kind: ErrorKind
    detail: str


class EvalResult(BaseModel):
    """A row of `results.parquet`: one model on one case."""

    model: str
    case_id: str
    dialog_type: DialogType
    tool_ids: list[str]
    messages: list[Message] = Field(
        description="The trajectory: the requests, the model's steps, the answers."
    )
    react: str = Field(description="The trajectory as ReAct text.")
    ending: EvalEnding
    ending_detail: str = ""
    final_answer: str = ""
    errors: list[ErrorFound] = Field(default_factory=list)
    golden_calls: int = 0
    calls_made: int = 0
    call_accuracy: bool | None = Field(
        description="BFCL's AST check: the calls made match the golden ones; None where the case is not "
        "one BFCL can score (several turns, a question to the user, a golden value that came from a "
        "result or a reply)."
    )
    call_problems: list[str] = Field(default_factory=list)
    rule_procedure: bool | None = Field(
        default=None,
        description="The rule procedure verdict: the process is correct by ToolAlpaca's written criteria "
        "(`tasks/evaluation/procedure.py`); None in results written before it.",
    )
    rule_procedure_reason: str = Field(default="", description="Why the rule procedure verdict failed.")
    procedure: Judgement = "unjudged"
    response: Judgement = "unjudged"
    judge_reason: str = ""
    overall: bool = Field(description="ToolAlpaca's overall: procedure and response both Yes.")
    model_calls: int = Field(default=0, description="Calls of the model under test (cached included).")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    simulator_calls: int = Field(default=0, description="Calls of the simulated user and tool executor.")

    @property
    def kinds(self) -> set[ErrorKind]:
        return {error.kind for error in self.errors}


class ModelScores(BaseModel):
    """A row of the side-by-side table: one model over every case."""

    model: str
    cases: int
    procedure: float = Field(description="Share of cases whose process the judge found correct.")
    rule_procedure: float | None = Field(
        default=None,
        description="Share of the cases with a rule procedure verdict whose process passes it "
        "(None: no case has one).",
    )
    response: float = Field(description="Share of cases whose final response the judge found correct.")
    overall: float = Field(description="Share with both Yes.")
    call_accuracy: float | None = Field(
        description="Share of the cases BFCL can score whose calls pass its AST check (None: no such case)."
    )
    call_cases: int = Field(default=0, description="Cases BFCL can score.")
    error_free: float = Field(description="Share of cases in which the rules found no error.")
    errors: dict[str, int] = Field(description="Cases with each error kind.")
    unjudged: int = Field(default=0, description="Cases the judge gave no verdict on.")
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class EvaluationManifest(BaseModel):
    """`evaluation.json`: what was evaluated, how, and the scores."""

    eval_id: str
    status: Literal["running", "completed", "failed"]
    created: datetime
    finished: datetime | None = None
    models: list[str]
    prompt_format: PromptFormat
    source: str = Field(description="The eval source as given: a run id or folder, or a file.")
    source_kind: EvalSource
    source_sha256: str = Field(description="sha256 of the cases evaluated (their JSON), whatever the source.")
    cases: int
    rejected_cases: list[Rejection] = Field(default_factory=list, description="Rejections of step eval_set.")
    repaired_tools: dict[str, list[str]] = Field(
        default_factory=dict, description="tool_id -> what was repaired in its spec (`EvalSet.repairs`)."
    )
    settings: dict[str, Any] = Field(default_factory=dict)
    llm: dict[str, Any] = Field(default_factory=dict, description="The simulators' and judge's settings.")
    prompts: dict[str, str] = Field(default_factory=dict, description="Prompt files and their versions.")
    scores: list[ModelScores] = Field(default_factory=list)
    error: str = ""

    _conformed = field_validator("rejected_cases", mode="before")(_conformed_cases)
