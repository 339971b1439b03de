"""Golden references: the cases of a run's eval split, and which golden values can be compared.

A run's eval split (its accepted dialogues on held-out tools, `tasks/exports/source.py`) becomes one
`EvalCase` per dialogue: its requests (the first, and the follow-ups it had) and, per request, its
ReAct steps as the golden actions, as ToolAlpaca's `Golden_Answers` hold them (a clarifying question
as a `getDetails` step, each call of a parallel message a step of its own).

A golden argument value is compared with the model's only where the model could know it from the
requests: a value that came from an earlier result or from the user's reply to a question (the model
under test gets other results and replies), or that is a placeholder (ToolAlpaca's golden answers
have some), is `derived`: the rules check that the model's value for it is grounded instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from schemas.dialog import Dialog, Message
from schemas.evaluation import EvalCase, EvalSet, GoldenStep, GoldenTurn, rejected_case
from schemas.grounding import Sources, allowed_values, leaves, ungrounded
from schemas.react import react_turns
from schemas.rejection import Rejection
from schemas.tool import Tool


def case_of(dialog: Dialog) -> EvalCase:
    """The case of one accepted dialogue: its requests and, for each, its steps as golden actions."""
    turns = [
        GoldenTurn(
            request=turn.request,
            steps=[GoldenStep(action=step.action, action_input=step.action_input) for step in turn.steps],
            final_answer=turn.final_answer or "",
        )
        for turn in react_turns(dialog.messages)
    ]
    return EvalCase(
        case_id=dialog.dialog_id,
        source="run",
        tool_ids=dialog.offered_tool_ids,
        dialog_type=dialog.dialog_type,
        turns=turns,
    )


def cases_of_dialogs(dialogs: Iterable[Dialog], tools: Mapping[str, Tool]) -> EvalSet:
    """The eval set of a run's held-out dialogues; a dialogue offering a tool the run has no record of
    is a rejected case, rule `unknown_tool` (its tools could not be shown to the model, nor
    simulated)."""
    cases: list[EvalCase] = []
    rejected: list[Rejection] = []
    for dialog in dialogs:
        missing = [tool_id for tool_id in dialog.offered_tool_ids if tool_id not in tools]
        if missing:
            reason = f"offers tools with no record in the run: {', '.join(missing)}"
            rejected.append(rejected_case(dialog.dialog_id, "unknown_tool", reason))
            continue
        cases.append(case_of(dialog))
    used = {tool_id for case in cases for tool_id in case.tool_ids}
    return EvalSet(cases=cases, tools={k: v for k, v in tools.items() if k in used}, rejected=rejected)


def derived_paths(case: EvalCase, step: GoldenStep, parameters: dict) -> list[str]:
    """The argument paths of a golden call whose value the model cannot know from the requests alone
    (`parameters`: the function's parameters schema, whose defaults and enums count as known)."""
    sources = Sources.before([Message(role="user", content=turn.request) for turn in case.turns])
    return [
        path
        for path, value in leaves(step.arguments())
        if ungrounded(value, sources, allowed_values(parameters, path)) is not None  # a placeholder too
    ]


def scored_by_bfcl(case: EvalCase, parameters: Mapping[str, dict]) -> bool:
    """Whether BFCL's AST check can score the case: one request, no question to the user, and every
    golden value known from the request (`parameters`: function name -> its parameters schema)."""
    if len(case.turns) != 1 or any(not step.is_call for step in case.turns[0].steps):
        return False
    calls = case.golden_calls()
    unreadable = [s for s in calls if not s.arguments() and s.action_input.strip() not in ("", "{}")]
    if unreadable:  # an input that is not JSON (ToolAlpaca's `{"id": ${id from search}}`): no values to check
        return False
    return not any(
        derived_paths(case, step, parameters.get(step.action) or {}) for step in case.golden_calls()
    )
