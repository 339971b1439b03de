"""The rule procedure verdict: ToolAlpaca's written criteria for a correct process, decided by rules.

ToolAlpaca's evaluation prompt asks its judge whether the solution contains every step of the
standard answer, with "the necessary parameters of the function ... consistent with the standard
answer; parameters not mentioned in the instruction can be inconsistent"; retrying after an error
and asking the user are acceptable, random calls to unrelated functions are not. As four clauses
over the model's trajectory and the case's golden steps, request by request:

- (a) every golden call is present among the model's calls for its request, in any order: the
  golden order is one order the data allows, and a call that needs an earlier result can only be
  made once the model has it. A call that got an error answer need match no golden step, so a
  retry after it costs nothing; questions to the user (the model's or the golden answer's
  `getDetails`) count neither way;
- (b) a call stands for a golden step when it calls the same function with the values the
  instruction determines: each golden value (a leaf of its input) that the requests' text gives,
  after normalisation (case, spacing, punctuation, a number written another way, a date in words),
  equal to the call's value at the same place (`rules.same_value`: as numbers, else after BFCL's
  normalisation, the comparison the `input_error` rule makes);
- (c) every other golden value may differ, or be left out: a value from a result or a reply, or one
  the golden answer chose (an optional `limit` the instruction names no number for);
- (d) a call of a function that no golden step uses fails the verdict, unless it comes after an
  error answer in the same request (a retry, by another way).

`procedure_verdict` is a pure decision, (passed, reason) as datatrove's filters return it; the six
error kinds (`tasks/evaluation/rules.py`) stay as diagnostics beside it, and the judge's verdict is
the third view.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from schemas.dialog import Message
from schemas.evaluation import EvalCase, GoldenStep
from schemas.grounding import Sources, leaves, ungrounded
from schemas.react import ReactTurn
from schemas.simulation import ASK_USER
from tasks.evaluation.rules import listed, value_differences


class Made(NamedTuple):
    """One call the model made for a request: its function, its input's leaves, and its status."""

    name: str
    values: dict[str, Any]
    status: int | None

    @property
    def failed(self) -> bool:
        return self.status is not None and not 200 <= self.status < 300


def _leaves(action_input: str) -> dict[str, Any]:
    try:
        value = json.loads(action_input)
    except ValueError:
        return {}
    return dict(leaves(value)) if isinstance(value, dict) else {}


def said(value: Any, instruction: Sources) -> bool:
    """Whether the instruction gives `value` (a leaf of a golden input), after normalisation; a number
    only when the instruction writes it (a small number the golden answer chose is not said)."""
    if isinstance(value, str):
        return any(c.isalnum() for c in value) and ungrounded(value, instruction) is None
    return float(value) in instruction.numbers


def determined(step: GoldenStep, instruction: Sources) -> dict[str, Any]:
    """The golden step's values that the instruction determines, by path (`query`, `filters.city`)."""
    return {path: value for path, value in leaves(step.arguments()) if said(value, instruction)}


def _step_problems(step: GoldenStep, made: list[Made], instruction: Sources) -> list[str]:
    """[] when a call stands for the golden step (clauses a to c), else why none does."""
    candidates = [call for call in made if call.name == step.action]
    if not candidates:
        return [f"no call of {step.action}"]
    wanted = determined(step, instruction)
    return min(
        (value_differences(call.name, call.values, wanted, "the request says") for call in candidates),
        key=len,
    )


def _unrelated(made: list[Made], golden_functions: set[str]) -> list[str]:
    """Clause d: calls of functions no golden step uses, other than those after an error answer."""
    problems, after_error = [], False
    for call in made:
        if call.name not in golden_functions and not after_error:
            problems.append(f"{call.name} is unrelated to the request (no golden step calls it)")
        after_error = after_error or call.failed
    return problems


def calls_by_request(turns: Sequence[ReactTurn]) -> list[list[Made]]:
    """The model's function calls per request, in order (questions to the user left out)."""
    return [
        [Made(s.action, _leaves(s.action_input), s.status_code) for s in turn.steps if s.action != ASK_USER]
        for turn in turns
    ]


def procedure_verdict(case: EvalCase, turns: Sequence[ReactTurn]) -> tuple[bool, str]:
    """Whether the trajectory (its ReAct `turns`, as `Play.turns` reads them) is a correct process by
    ToolAlpaca's written criteria (the module says the clauses), and why not: (True, "") or (False,
    the problems found, request by request)."""
    instruction = Sources.before([Message(role="user", content=turn.request) for turn in case.turns])
    golden_functions = {step.action for step in case.golden_calls()}
    made = calls_by_request(turns)
    problems: list[str] = []
    for number, turn in enumerate(case.turns, 1):
        calls = made[number - 1] if number <= len(made) else []
        found = [p for step in turn.steps if step.is_call for p in _step_problems(step, calls, instruction)]
        found += _unrelated(calls, golden_functions)
        problems += [f"request {number}: {problem}" for problem in found]
    return (False, listed(problems)) if problems else (True, "")
