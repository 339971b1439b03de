"""One model on one case: play it, find its errors, check its calls and its procedure by the rules,
judge it; its `EvalResult`."""

from __future__ import annotations

import json
from collections.abc import Sequence

from agents.assistant.agent import documentation
from agents.judge.agent import judge_trajectory
from agents.llm.errors import LLMCallError, StructuredOutputError
from agents.llm.gateway import LLMGateway, Tally
from schemas.evaluation import EvalCase, EvalResult, Judgement
from schemas.react import ReactTurn, render_turn
from schemas.spec import function_tools
from schemas.tool import Tool
from tasks.evaluation.play import EVALUATION_STAGE, PlaySettings, play
from tasks.evaluation.procedure import procedure_verdict
from tasks.evaluation.rules import Offered, Play, call_accuracy, find_errors, golden_text


def offered(tools: Sequence[Tool]) -> Offered:
    """The functions of the tools offered, with the spec each belongs to."""
    functions, specs = [], {}
    for tool in tools:
        spec = json.loads(tool.openapi)
        for function in function_tools(spec):
            functions.append(function)
            specs.setdefault(function["function"]["name"], spec)
    return Offered(functions, specs)


def solution_text(turns: Sequence[ReactTurn]) -> str:
    """The trajectory (its ReAct turns) as text: each request, its steps with their observations, its
    answer."""
    return "\n".join(render_turn(turn) for turn in turns)


def evaluate_case(
    model_name: str,
    case: EvalCase,
    tools: Sequence[Tool],
    model: LLMGateway,
    simulators: LLMGateway,
    settings: PlaySettings,
    judge: bool = True,
) -> EvalResult:
    """The result of the model (the `assistant` role of gateway `model`) on `case`: its trajectory,
    the rules' error kinds, call accuracy and procedure verdict, and, with `judge`, the judge's
    verdicts (its calls on gateway `simulators`, under the role `judge`)."""
    tools = list(tools)
    trajectory = play(case, tools, model, simulators, settings)
    read = Play(trajectory.messages, trajectory.ending, trajectory.detail)
    functions = offered(tools)
    check = call_accuracy(case, read, functions)
    rule_passed, rule_reason = procedure_verdict(case, read.turns)
    solution = solution_text(read.turns)
    procedure: Judgement = "unjudged"
    response: Judgement = "unjudged"
    reason = "the judge is off" if not judge else ""
    if judge:
        try:
            verdict = judge_trajectory(
                simulators,
                documentation(tools),
                "\n".join(turn.request for turn in case.turns),
                golden_text(case),
                solution,
                EVALUATION_STAGE,
                Tally(),
            )
            procedure, response, reason = verdict.process, verdict.response, verdict.analysis
        except (StructuredOutputError, LLMCallError) as exc:
            reason = f"judge: {exc}"
    finals = [turn.final_answer or "" for turn in read.turns]
    return EvalResult(
        model=model_name,
        case_id=case.case_id,
        dialog_type=case.dialog_type,
        tool_ids=case.tool_ids,
        messages=trajectory.messages,
        react=solution,
        ending=trajectory.ending,
        ending_detail=trajectory.detail,
        final_answer=finals[-1] if trajectory.ending == "final_answer" else "",
        errors=find_errors(case, read, functions),
        golden_calls=len(case.golden_calls()),
        calls_made=len(read.calls),
        call_accuracy=None if check is None else check.correct,
        call_problems=[] if check is None else check.problems,
        rule_procedure=rule_passed,
        rule_procedure_reason=rule_reason,
        procedure=procedure,
        response=response,
        judge_reason=reason,
        overall=procedure == "Yes" and response == "Yes",
        model_calls=trajectory.model.calls,
        prompt_tokens=trajectory.model.prompt_tokens,
        completion_tokens=trajectory.model.completion_tokens,
        simulator_calls=trajectory.simulators.calls,
    )
