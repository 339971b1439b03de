"""A run's statistics (`schemas/statistics.py`), counted from its artifacts part by part.

Everything is read from the run folder (tools, dialogues, rejections) and the LLM usage from the
manifest (or given, at the end of a run, from the live ledger), so a finished run's figures can be
computed again at any time (`python -m flows.report RUN`) and come out the same.
"""

from __future__ import annotations

from collections import Counter

from schemas.dialog import Dialog
from schemas.manifest import LLMUsage, PerAccepted
from schemas.react import react_steps
from schemas.rejection import Rejection
from schemas.statistics import STEP_BINS, WORD_BINS, CorpusStatistics, Histogram, RejectionCount
from schemas.tool import Tool
from storage.run_store import RunStore


def words(text: str) -> int:
    return len(text.split())


def mean(values: list[int]) -> float:
    return round(sum(values) / len(values), 2) if values else 0.0


def corpus_statistics(store: RunStore, run_id: str, usage: LLMUsage | None = None) -> CorpusStatistics:
    """The statistics of run `run_id`; `usage` defaults to the manifest's."""
    has = lambda name: store.has_artifact(run_id, name)  # noqa: E731
    per_category: Counter[str] = Counter()
    functions: list[int] = []
    for tool in store.iter_records(run_id, "tools", Tool) if has("tools") else []:
        per_category[tool.category] += 1
        functions.append(len(tool.functions))
    requests: list[int] = []
    answers: list[int] = []
    steps: list[int] = []
    calls: Counter[str] = Counter()
    types: Counter[str] = Counter()
    tools_used: set[str] = set()
    for dialog in store.iter_records(run_id, "dialogs", Dialog) if has("dialogs") else []:
        requests.append(words(dialog.instruction))
        answers.append(words(dialog.final_answer))
        steps.append(len(react_steps(dialog.messages)))
        calls["none" if dialog.calls == 0 else "one" if dialog.calls == 1 else "several"] += 1
        types[dialog.dialog_type] += 1
        tools_used.add(dialog.tool_id)
    rejected = (
        len(store.read_column(run_id, "rejected_dialogs", "dialog_id")) if has("rejected_dialogs") else 0
    )
    by_rule = Counter(
        (r.step, r.rule)
        for r in (store.iter_records(run_id, "rejections", Rejection) if has("rejections") else [])
    )
    usage = usage or store.read_manifest(run_id).llm
    return CorpusStatistics(
        categories=len(per_category),
        tools=len(functions),
        tools_with_dialogs=len(tools_used),
        instances=len(requests),
        rejected_instances=rejected,
        single_call=calls["one"],
        multiple_calls=calls["several"],
        no_call=calls["none"],
        avg_functions_per_tool=mean(functions),
        avg_steps=mean(steps),
        avg_request_words=mean(requests),
        avg_answer_words=mean(answers),
        dialog_types=dict(sorted(types.items())),
        tools_per_category=dict(sorted(per_category.items(), key=lambda kv: (-kv[1], kv[0]))),
        rejections=[RejectionCount(step=s, rule=r, count=n) for (s, r), n in sorted(by_rule.items())],
        request_words=Histogram.of(requests, WORD_BINS),
        answer_words=Histogram.of(answers, WORD_BINS),
        steps=Histogram.of(steps, STEP_BINS),
        llm_calls=usage.calls,
        llm_cache_hits=usage.cache_hits,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost_usd=usage.cost_usd,
    )


TABLE_1: tuple[tuple[str, str], ...] = (
    ("categories", "Categories"),
    ("tools", "Tools"),
    ("tools_with_dialogs", "Tools with accepted dialogues"),
    ("instances", "Instances (accepted dialogues)"),
    ("rejected_instances", "Rejected dialogues"),
    ("single_call", "Single function call"),
    ("multiple_calls", "Multiple function calls"),
    ("no_call", "No function call"),
    ("avg_functions_per_tool", "Avg. functions per tool"),
    ("avg_steps", "Avg. steps"),
    ("avg_request_words", "Avg. request length (words)"),
    ("avg_answer_words", "Avg. answer length (words)"),
)
"""ToolAlpaca's Table 1 and two more rows, as (field of `CorpusStatistics`, label), in its order."""
USAGE: tuple[tuple[str, str], ...] = (
    ("llm_calls", "LLM calls"),
    ("llm_cache_hits", "Answered from the cache"),
    ("prompt_tokens", "Prompt tokens"),
    ("completion_tokens", "Completion tokens"),
    ("cost_usd", "Cost"),
)


def figure(field: str, value: float) -> str:
    """A figure as every view of the statistics shows it (report, artifact, dataset card): counts with
    thousands separators, averages to 2 places, the cost (`cost_usd`) in dollars to 4."""
    if field == "cost_usd":
        return f"${value:,.4f}"
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


PER_ACCEPTED_HEADER = ["stage", "calls", "prompt tokens", "completion tokens", "cost (USD)"]


def per_accepted_rows(per: PerAccepted) -> list[list[str]]:
    """The model calls, tokens and dollars per accepted dialogue as table rows (`PER_ACCEPTED_HEADER`):
    each stage's, then the run's ("all"); dollars to 6 places, the price of one dialogue being small."""
    return [
        [unit.stage, f"{unit.calls:,.2f}", f"{unit.prompt_tokens:,.0f}", f"{unit.completion_tokens:,.0f}",
         f"${unit.cost_usd:,.6f}"]
        for unit in [*per.by_stage, per.overall]
    ]  # fmt: skip


def per_accepted_markdown(per: PerAccepted | None) -> list[str]:
    """`per_accepted_rows` as a Markdown table (a line saying so when the run accepted no dialogue)."""
    if per is None:
        return ["No dialogue was accepted, or the run did not record it."]
    lines = ["| " + " | ".join(PER_ACCEPTED_HEADER) + " |", "|---" * len(PER_ACCEPTED_HEADER) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in per_accepted_rows(per)]


def statistics_markdown(stats: CorpusStatistics) -> str:
    """The statistics as Markdown: Table 1, dialogue types, rejections by step and rule, LLM usage."""
    lines = ["## Statistics (ToolAlpaca's Table 1)", "", "| statistic | value |", "|---|---|"]
    lines += [f"| {label} | {figure(name, getattr(stats, name))} |" for name, label in TABLE_1]
    lines += ["", "## Dialogue types (accepted)", "", "| type | dialogues |", "|---|---|"]
    lines += [f"| {kind} | {n} |" for kind, n in stats.dialog_types.items()] or ["| none | 0 |"]
    lines += ["", "## Rejections by step and rule", "", "| step | rule | count |", "|---|---|---|"]
    lines += [f"| {r.step} | {r.rule} | {r.count} |" for r in stats.rejections] or ["| none | | 0 |"]
    lines += ["", "## LLM usage", "", "| statistic | value |", "|---|---|"]
    lines += [f"| {label} | {figure(name, getattr(stats, name))} |" for name, label in USAGE]
    return "\n".join(lines) + "\n"
