"""The checks step: ToolAlpaca's shape filters over simulated dialogues, each a named rule.

A rule looks at one instance and returns why it fails, or None. `check_instances` applies the rules
in order to every simulated instance: the first rule that fails rejects it (`rejection_rule`,
`rejection_reason`), one that passes them all is accepted; an instance rejected before (its
simulation could not run) passes through unchanged. Another check is another rule here, or another
step in the flow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from schemas.instance import Instance, RejectionRule
from schemas.rejection import Rejection

STEP = "checks"
Rule = Callable[[Instance], str | None]


def too_many_steps(instance: Instance) -> str | None:
    """The assistant wanted more actions than the step limit allows."""
    return instance.ending_detail if instance.ending == "step_limit" else None


def unparseable_output(instance: Instance) -> str | None:
    """The assistant's (or the user's) answer stayed unusable after the allowed repairs."""
    return instance.ending_detail if instance.ending == "assistant_unusable" else None


def invalid_observation(instance: Instance) -> str | None:
    """The simulated API's answer stayed invalid for the spec after the allowed repairs."""
    return instance.ending_detail if instance.ending == "executor_unusable" else None


def no_function_call(instance: Instance) -> str | None:
    """The assistant called no function of the tool (a clarifying question alone does not count)."""
    return None if instance.functions_used else "the assistant called no function"


def no_final_answer(instance: Instance) -> str | None:
    """The dialogue ended without a final answer, or with an empty one."""
    return None if instance.final_answer.strip() else "the final answer is empty"


SHAPE_RULES: list[tuple[RejectionRule, Rule]] = [
    ("too_many_steps", too_many_steps),
    ("unparseable_output", unparseable_output),
    ("invalid_observation", invalid_observation),
    ("no_function_call", no_function_call),
    ("no_final_answer", no_final_answer),
]


@dataclass
class Checked:
    """The instances that passed every rule, those rejected, and a rejection row for each of them."""

    accepted: list[Instance] = field(default_factory=list)
    rejected: list[Instance] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def check_instances(
    instances: Sequence[Instance], rules: Sequence[tuple[RejectionRule, Rule]] = SHAPE_RULES
) -> Checked:
    """Accept or reject each simulated instance by the first rule it fails."""
    checked = Checked()
    for instance in instances:
        if instance.status == "simulated":
            instance = _verdict(instance, rules)
        if instance.status == "accepted":
            checked.accepted.append(instance)
            continue
        checked.rejected.append(instance)
        step = STEP if instance.ending != "not_simulated" else "simulation"
        checked.rejections.append(
            Rejection(
                item_id=instance.instance_id,
                step=step,
                rule=str(instance.rejection_rule),
                reason=instance.rejection_reason,
            )
        )
    return checked


def _verdict(instance: Instance, rules: Sequence[tuple[RejectionRule, Rule]]) -> Instance:
    for name, rule in rules:
        reason = rule(instance)
        if reason is not None:
            update = {"status": "rejected", "rejection_rule": name, "rejection_reason": reason}
            return instance.model_copy(update=update)
    return instance.model_copy(update={"status": "accepted"})
