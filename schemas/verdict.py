"""Verdicts: what each check of the verification layers said of one dialogue (data, not log lines).

Every dialogue carries the verdicts of the checks it went through, passed or failed, accepted or
rejected: the rule layer's (`tasks/rules.py`, a program's checks), the judge's (`agents/judge/`, a
model's checks, `JudgeVerdicts`) and the corpus-wide dedup's (`tasks/dedup.py`). A failed check's
name is the rule a rejected dialogue names; the manifest gives pass rates per check
(`CheckStats`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Layer = Literal["rules", "judge", "dedup"]
JudgeMode = Literal["off", "flag", "filter"]
"""off: no judge call; flag: the judge's verdicts are recorded, the dialogue kept whatever they say;
filter: a dialogue the judge fails is rejected by the check it failed."""


class Verdict(BaseModel):
    """One check's verdict on one dialogue."""

    check: str = Field(
        description="The rule checked, named for the failure it finds (e.g. `ungrounded_argument`)."
    )
    layer: Layer
    passed: bool
    reason: str = Field(default="", description="Why it failed (or, from the judge, why it passed).")


class JudgedCheck(BaseModel):
    """The judge's answer to one question about a dialogue."""

    passed: bool
    reason: str = Field(max_length=300, description="One sentence: what in the dialogue decides it.")


class JudgeVerdicts(BaseModel):
    """The judge model's structured answer: one verdict per question (the decoding schema is derived
    from this model). The field names are the checks' names, each named for the failure it finds."""

    unsolvable: JudgedCheck = Field(
        description="Passed when the request can be served by the tools offered (a non_tool request: "
        "when it needs none of them)."
    )
    hallucination: JudgedCheck = Field(
        description="Passed when no argument value and no claim of the final answer is invented: each "
        "comes from the user's messages or the tools' results."
    )
    inconsistent_answer: JudgedCheck = Field(
        description="Passed when the final answer agrees with the tools' results and answers the request."
    )
    implausible_response: JudgedCheck = Field(
        description="Passed when each simulated tool result is what a real server would return for its call."
    )

    def verdicts(self) -> list[Verdict]:
        return [
            Verdict(check=name, layer="judge", passed=answer.passed, reason=answer.reason.strip())
            for name, answer in ((name, getattr(self, name)) for name in type(self).model_fields)
        ]


JUDGE_CHECKS: tuple[str, ...] = tuple(JudgeVerdicts.model_fields)


class CheckStats(BaseModel):
    """How the dialogues of a run fared on one check: in the manifest and the run's report."""

    check: str
    layer: Layer
    dialogs: int = Field(description="Dialogues the check looked at.")
    passed: int
    pass_rate: float = Field(description="passed / dialogs (1.0 when it looked at none).")
