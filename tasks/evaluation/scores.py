"""The side-by-side table: each model's scores over the cases, as `ModelScores` and as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.evaluation import ERROR_KINDS, EvalResult, ModelScores

ERROR_HEADINGS = {
    "parse_error": "parse",
    "wrong_action": "wrong action",
    "redundant_action": "redundant",
    "input_error": "input",
    "illusory_input": "illusory",
    "wrong_answer": "wrong answer",
}
COLUMNS = {
    "procedure": "Share of cases whose process the judge found correct (ToolAlpaca's procedure accuracy).",
    "rule proc.": "Share of cases whose process passes the rule procedure verdict: ToolAlpaca's "
    "written criteria as rules (every golden step present, the values the instruction gives equal, "
    "no call of an unrelated function).",
    "response": "Share of cases whose final response the judge found correct (response accuracy).",
    "overall": "Share of cases with both Yes (ToolAlpaca's overall accuracy).",
    "call acc.": "Share of the cases BFCL can score (how many in brackets) whose calls pass BFCL's AST "
    "check: function names, required arguments, types and values after normalisation, order ignored.",
    "error-free": "Share of cases in which the rules found none of the six error kinds.",
    **{
        heading: f"Cases with a {kind.replace('_', ' ')} (rules, no LLM)."
        for kind, heading in ERROR_HEADINGS.items()
    },
    "calls": "Calls of the model under test (answers from the cache included).",
    "tokens": "Prompt and completion tokens of the model under test.",
}
"""What each column of the table means (the README and the report say the same)."""


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def model_scores(model: str, results: Sequence[EvalResult]) -> ModelScores:
    """One model's row, from its results."""
    total = len(results)
    scored = [r.call_accuracy for r in results if r.call_accuracy is not None]
    ruled = [r.rule_procedure for r in results if r.rule_procedure is not None]
    return ModelScores(
        model=model,
        cases=total,
        procedure=_share(sum(r.procedure == "Yes" for r in results), total),
        rule_procedure=_share(sum(ruled), len(ruled)) if ruled else None,
        response=_share(sum(r.response == "Yes" for r in results), total),
        overall=_share(sum(r.overall for r in results), total),
        call_accuracy=_share(sum(scored), len(scored)) if scored else None,
        call_cases=len(scored),
        error_free=_share(sum(not r.errors for r in results), total),
        errors={kind: sum(kind in r.kinds for r in results) for kind in ERROR_KINDS},
        unjudged=sum(r.procedure == "unjudged" or r.response == "unjudged" for r in results),
        model_calls=sum(r.model_calls for r in results),
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
    )


def scores_by_model(models: Sequence[str], results: Sequence[EvalResult]) -> list[ModelScores]:
    """A row per model, in the order given."""
    return [model_scores(model, [r for r in results if r.model == model]) for model in models]


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def scores_table(scores: Sequence[ModelScores]) -> str:
    """The models side by side, as a Markdown table."""
    head = [
        "model",
        "cases",
        "procedure",
        "rule proc.",
        "response",
        "overall",
        "call acc.",
        "error-free",
        *ERROR_HEADINGS.values(),
        "calls",
        "tokens",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for row in scores:
        cells = [
            f"`{row.model}`",
            str(row.cases),
            _percent(row.procedure),
            _percent(row.rule_procedure),
            _percent(row.response),
            _percent(row.overall),
            f"{_percent(row.call_accuracy)} ({row.call_cases})",
            _percent(row.error_free),
            *(str(row.errors.get(kind, 0)) for kind in ERROR_HEADINGS),
            str(row.model_calls),
            f"{row.prompt_tokens + row.completion_tokens:,}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _tokens(row: ModelScores) -> int:
    return row.prompt_tokens + row.completion_tokens


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f}"


def _difference(last: float | None, first: float | None) -> float | None:
    return None if last is None or first is None else last - first


def scores_difference(scores: Sequence[ModelScores]) -> str:
    """The table, then a row of the last model's difference from the first per column (percentage
    points for the shares, cases for the error kinds): a trained model against its base."""
    table = scores_table(scores)
    if len(scores) < 2:
        return table
    first, last = scores[0], scores[-1]
    call = _difference(last.call_accuracy, first.call_accuracy)
    cells = [
        "difference",
        str(last.cases - first.cases),
        _points(last.procedure - first.procedure),
        _points(_difference(last.rule_procedure, first.rule_procedure)),
        _points(last.response - first.response),
        _points(last.overall - first.overall),
        _points(call),
        _points(last.error_free - first.error_free),
        *(f"{last.errors.get(k, 0) - first.errors.get(k, 0):+d}" for k in ERROR_HEADINGS),
        f"{last.model_calls - first.model_calls:+d}",
        f"{_tokens(last) - _tokens(first):+,}",
    ]
    return table + "\n| " + " | ".join(cells) + " |"
