"""The checks step: the rule layer (`tasks/rules.py`) over simulated dialogues.

`check_dialogs` applies every rule to every simulated dialogue and records each one's verdict on it
(`Dialog.verdicts`, layer `rules`): a dialogue that fails any is rejected by the first it failed
(`rejection_step` checks, `rejection_rule`, `rejection_reason`), one that passes them all is
accepted. A dialogue rejected before (its simulation could not run) passes through unchanged. The
judge step (`tasks/judge.py`) takes the accepted ones next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.dialog import Dialog, RejectionRule
from schemas.rejection import Rejection
from schemas.verdict import Verdict
from tasks.rules import RULES, Rule


@dataclass
class Checked:
    """The dialogues that passed every check of a step, those rejected, and a rejection row for each."""

    accepted: list[Dialog] = field(default_factory=list)
    rejected: list[Dialog] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    def file(self, dialog: Dialog) -> None:
        """Add a dialogue by its status (a rejected one with its rejection row)."""
        if dialog.rejection is None:
            self.accepted.append(dialog)
            return
        self.rejected.append(dialog)
        self.rejections.append(dialog.rejection)


def check_dialogs(dialogs: Sequence[Dialog], rules: Sequence[tuple[RejectionRule, Rule]] = RULES) -> Checked:
    """Every rule's verdict on each simulated dialogue; accepted, or rejected by the first it failed."""
    checked = Checked()
    for dialog in dialogs:
        if dialog.status == "simulated":
            dialog = with_verdicts(dialog, rules)
        checked.file(dialog)
    return checked


def with_verdicts(dialog: Dialog, rules: Sequence[tuple[RejectionRule, Rule]] = RULES) -> Dialog:
    """The dialogue with every rule's verdict added, accepted or rejected by the first it failed."""
    verdicts = []
    for name, rule in rules:
        reason = rule(dialog)
        verdicts.append(Verdict(check=name, layer="rules", passed=reason is None, reason=reason or ""))
    return dialog.model_copy(update={"status": "accepted"}).with_verdicts(verdicts)
