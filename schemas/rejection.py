"""Rejections: every item that enters a step leaves it as an output or as a rejection.

One vocabulary for "this item left this step without an output, by this rule, because of this":

- `step`: the step the item left (`Step`);
- `rule`: what rejected it: a check the item failed (`openapi`, `duplicate_api`, `not_executable`...)
  or one of the two failures (`FailureRule`) every step shares: `llm_error`, a model call that failed
  for good, and `task_failed`, the step's code (or its task run) that raised;
- `reason`: a sentence for a person (redacted where it quotes an error);
- `duplicate_of`: for a duplicate, the item kept in its place.

`Rejected` holds these fields once. `Rejection` (a row of `rejections`, which lists every rejection
of a run) is `Rejected` with the item's id; the rejected records that keep their payload have the
same fields beside it (`RejectedTool`, `RejectedAPI`) or, for a dialogue, which is also the accepted
record, under a `rejection_` prefix (`Dialog.rejection_step`...); each gives its `rejection`.

Parts written before this vocabulary are read into it: the rule spellings `llm` and `task` become
`llm_error` and `task_failed`, and a rejected tool's `stage` its step and rule (`RejectedTool`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

Step = Literal[
    "taxonomy",
    "pool",
    "toolset",
    "instructions",
    "simulation",
    "checks",
    "judge",
    "dedup",
    "decontamination",
    "eval_set",
]
"""The steps items leave: the API pool's taxonomy and APIs, the toolset, the instructions, the
simulation, the rule layer (`checks`), the judge, the corpus-wide dedups, the decontamination of
instructions against test sets, and the reading of an evaluation's cases."""
FailureRule = Literal["llm_error", "task_failed"]
"""The rules of an item whose work raised, at any step (`tasks.batch.failure`)."""
LEGACY_RULES: dict[str, FailureRule] = {"llm": "llm_error", "task": "task_failed"}
"""The failure rules as parts written before this vocabulary spell them."""


def conformed_rule(rule: Any) -> Any:
    """A rule as this vocabulary spells it (`llm` -> `llm_error`, `task` -> `task_failed`)."""
    return LEGACY_RULES.get(rule, rule) if isinstance(rule, str) else rule


class Rejected(BaseModel):
    """The fields that name a rejection: its step, rule, reason and, for a duplicate, the kept item."""

    step: Step
    rule: str
    reason: str
    duplicate_of: str | None = Field(default=None, description="A duplicate's kept item.")

    _one_spelling = field_validator("rule", mode="before")(conformed_rule)

    def rejection_of(self, item_id: str) -> Rejection:
        """This rejection as a row of `rejections`."""
        return Rejection(item_id=item_id, **self.model_dump(include=set(Rejected.model_fields)))


class Rejection(Rejected):
    """One item a step rejected: a row of `rejections`, which lists every rejection of a run by step
    and rule (the rejected tools, APIs and dialogues themselves are in `rejected_tools`,
    `rejected_apis` and `rejected_dialogs`; an evaluation's rejected cases in its manifest)."""

    item_id: str = Field(description="What was rejected: a seed, tool, API, dialogue or case id.")
