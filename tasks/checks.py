"""The checks step: ToolAlpaca's shape filters and the shape of each dialogue type
(`schemas/dialog_shape.py`) over simulated dialogues, each a named rule.

A rule looks at one dialogue and returns why it fails, or None. `check_dialogs` applies the rules
in order to every simulated dialogue: the first rule that fails rejects it (`rejection_rule`,
`rejection_reason`), one that passes them all is accepted; a dialogue rejected before (its
simulation could not run) passes through unchanged. Another check is another rule here, or another
step in the flow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from schemas import dialog_shape
from schemas.dialog import Dialog, RejectionRule
from schemas.react import react_turns
from schemas.rejection import Rejection

STEP = "checks"
Rule = Callable[[Dialog], str | None]


def too_many_steps(dialog: Dialog) -> str | None:
    """The assistant wanted more actions than the step limit allows."""
    return dialog.ending_detail if dialog.ending == "step_limit" else None


def unparseable_output(dialog: Dialog) -> str | None:
    """The assistant's (or the user's) answer stayed unusable after the allowed repairs."""
    return dialog.ending_detail if dialog.ending == "assistant_unusable" else None


def invalid_observation(dialog: Dialog) -> str | None:
    """The simulated API's answer stayed invalid for the spec after the allowed repairs."""
    return dialog.ending_detail if dialog.ending == "executor_unusable" else None


def no_function_call(dialog: Dialog) -> str | None:
    """A dialogue made to use the tool called none of its functions (a clarifying question alone does
    not count)."""
    return None if dialog.dialog_type == "non_tool" else dialog_shape.no_call(dialog.messages)


def not_parallel(dialog: Dialog) -> str | None:
    """A parallel dialogue made no assistant message with several calls."""
    return dialog_shape.not_parallel(dialog.messages) if dialog.dialog_type == "parallel" else None


def not_dependent(dialog: Dialog) -> str | None:
    """A dependent dialogue made no call with a value from an earlier result (one the user gave, or
    that the assistant made up, does not count)."""
    return dialog_shape.not_dependent(dialog.messages) if dialog.dialog_type == "dependent" else None


def not_multi_turn(dialog: Dialog) -> str | None:
    """A multi-turn dialogue with fewer than 2 follow-up requests."""
    if dialog.dialog_type != "multi_turn" or dialog.turns >= dialog_shape.MIN_TURNS:
        return None
    return (
        f"a multi_turn dialogue has at least {dialog_shape.MIN_TURNS} user requests; "
        f"this one has {dialog.turns}"
    )


def tool_called_in_non_tool(dialog: Dialog) -> str | None:
    """A dialogue whose request needs no tool called one."""
    if dialog.dialog_type != "non_tool" or not dialog.functions_used:
        return None
    called = ", ".join(dialog.functions_used)
    return f"a non_tool dialogue is answered without a call; the assistant called {called}"


def no_final_answer(dialog: Dialog) -> str | None:
    """The dialogue ended without a final answer (the protocol left the assistant no move), or with
    an empty one, or an earlier request of a multi-turn dialogue got an empty one."""
    if dialog.ending == "no_move_left":
        return dialog.ending_detail
    if not dialog.final_answer.strip():
        return "the final answer is empty"
    turns = react_turns(dialog.messages)
    empty = [n for n, turn in enumerate(turns[:-1], 1) if not (turn.final_answer or "").strip()]
    return f"the final answer to request {empty[0]} of {len(turns)} is empty" if empty else None


SHAPE_RULES: list[tuple[RejectionRule, Rule]] = [
    ("too_many_steps", too_many_steps),
    ("unparseable_output", unparseable_output),
    ("invalid_observation", invalid_observation),
    ("no_function_call", no_function_call),
    ("not_parallel", not_parallel),
    ("not_dependent", not_dependent),
    ("tool_called_in_non_tool", tool_called_in_non_tool),
    ("not_multi_turn", not_multi_turn),
    ("no_final_answer", no_final_answer),
]


@dataclass
class Checked:
    """The dialogues that passed every rule, those rejected, and a rejection row for each of them."""

    accepted: list[Dialog] = field(default_factory=list)
    rejected: list[Dialog] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def check_dialogs(
    dialogs: Sequence[Dialog], rules: Sequence[tuple[RejectionRule, Rule]] = SHAPE_RULES
) -> Checked:
    """Accept or reject each simulated dialogue by the first rule it fails."""
    checked = Checked()
    for dialog in dialogs:
        if dialog.status == "simulated":
            dialog = _verdict(dialog, rules)
        if dialog.status == "accepted":
            checked.accepted.append(dialog)
            continue
        checked.rejected.append(dialog)
        step = STEP if dialog.ending != "not_simulated" else "simulation"
        checked.rejections.append(
            Rejection(
                item_id=dialog.dialog_id,
                step=step,
                rule=str(dialog.rejection_rule),
                reason=dialog.rejection_reason,
            )
        )
    return checked


def _verdict(dialog: Dialog, rules: Sequence[tuple[RejectionRule, Rule]]) -> Dialog:
    for name, rule in rules:
        reason = rule(dialog)
        if reason is not None:
            update = {"status": "rejected", "rejection_rule": name, "rejection_reason": reason}
            return dialog.model_copy(update=update)
    return dialog.model_copy(update={"status": "accepted"})
