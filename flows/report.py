"""What a run shows: in Prefect's UI, its stages' progress, its log, its summary and what changed;
in `<run>/report.html`, its statistics, charts and a dialogue browser (`python -m flows.report RUN`).

`RunReport` follows a run from its flow: a progress artifact per stage (`toolset-progress`, ...)
updated every `EVERY_S` seconds, and the terminal's progress lines, ingest problems and notes in the
run's log (the UI's Logs tab). At the end it publishes the summary: a table (one row per tool) and a
markdown artifact with the counts, rejections by step and rule, and LLM usage and cost; for a run of
a series (a scheduled deployment), the changes since the series' previous run. Outside a flow run
(the plain functions in tests) the lines go to this module's logger and no artifact is made.
"""

from __future__ import annotations

import logging
import posixpath
import sys
import time
from collections import Counter
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.context import FlowRunContext

from agents.llm.redact import redact
from flows.cli import RunCommand
from flows.options import BadOption, CommandLine, ModelOptions
from flows.progress import ProgressBoard
from schemas.complexity import BANDS
from schemas.diversity import Diversity
from schemas.errors import InputError
from schemas.forecast_check import ForecastCheck
from schemas.limits import ConcurrencyChange, by_limit
from schemas.manifest import LLMUsage, RunChanges, StageStats
from schemas.statistics import CorpusStatistics
from schemas.verdict import CheckStats
from storage.run_store import RunStore, resolve_run
from tasks.diversity import diversity_markdown
from tasks.forecast import FORECAST_CHECK_HEADER, forecast_check_rows
from tasks.statistics import corpus_statistics, per_accepted_markdown, statistics_markdown

log = logging.getLogger(__name__)
EVERY_S = 10.0


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The flow run's logger (its lines reach the UI), else this module's."""
    if FlowRunContext.get() is None:
        return log
    from prefect.logging import get_run_logger

    return get_run_logger()


class RunReport:
    """The UI's view of a running run; `update()` is cheap to call often (it acts every `EVERY_S`)."""

    def __init__(self, board: ProgressBoard, every_s: float = EVERY_S) -> None:
        self.board, self.every_s = board, every_s
        self.in_flow = FlowRunContext.get() is not None
        self.logger = run_logger()
        self._artifacts: dict[str, UUID] = {}
        self._last = 0.0
        self._noted = 0

    def notes(self, notes: list[str]) -> None:
        """The run's notes not logged yet (ingest problems, shortfalls, why it stopped), a line each."""
        for line in notes[self._noted :]:
            self.logger.warning(redact(line))
        self._noted = max(self._noted, len(notes))

    def update(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        for name, stage in self.board.stages.items():
            self.logger.info(stage.line())
            if not self.in_flow:
                continue
            done = 100.0 * (stage.ok + stage.rejected) / stage.total if stage.total else 0.0
            if name not in self._artifacts:
                key = f"{name}-progress"
                self._artifacts[name] = create_progress_artifact(done, key=key, description=f"{name} stage")
            else:
                update_progress_artifact(self._artifacts[name], done)

    def finish(
        self,
        stages: list[StageStats],
        rejections: Counter[tuple[str, str]],
        usage: LLMUsage,
        tool_rows: list[dict[str, Any]],
        changes: RunChanges | None,
        dialogs_by: dict[str, Counter[tuple[str, str]]] | None = None,
        checks: list[CheckStats] | None = None,
        diversity: Diversity | None = None,
        statistics: CorpusStatistics | None = None,
        forecast: ForecastCheck | None = None,
        concurrency: list[ConcurrencyChange] | None = None,
    ) -> str:
        """The last progress, then the summary artifacts (and the changes, the adaptive limits' and
        the run beside its forecast); returns the markdown."""
        self.update(force=True)
        markdown = summary_markdown(stages, rejections, usage, dialogs_by)
        if concurrency:
            markdown += "\n" + concurrency_markdown(concurrency)
        if forecast is not None:
            markdown += "\n" + forecast_check_markdown(forecast)
        if statistics is not None:
            markdown += "\n" + statistics_markdown(statistics)
        if checks:
            markdown += "\n" + checks_markdown(checks)
        if diversity is not None:
            markdown += "\n" + diversity_markdown(diversity)
        if changes is not None:
            changed = changes_markdown(changes)
            markdown += "\n" + changed
            for line in changed.splitlines()[2:]:
                self.logger.info(line.lstrip("- "))
        if self.in_flow:
            description = ", ".join(f"{s.name}: {s.outputs} out, {s.rejected} rejected" for s in stages)
            create_table_artifact(key="corpus-summary", table=tool_rows, description=description)
            create_markdown_artifact(
                markdown, key="corpus-report", description="counts, rejections, pass rates, diversity, usage"
            )
            if statistics is not None:
                create_markdown_artifact(
                    statistics_markdown(statistics),
                    key="corpus-statistics",
                    description="Table 1, dialogue types, rejections by stage and rule, LLM usage",
                )
            if checks:
                rows = [c.model_dump() for c in checks]
                create_table_artifact(key="corpus-checks", table=rows, description="pass rates per check")
        return markdown


ORDER = {name: rank for rank, name in enumerate(BANDS)}
"""Rows shown in this order where they have one (complexity bands), the rest by name."""


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A markdown table's lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def summary_markdown(
    stages: list[StageStats],
    rejections: Counter[tuple[str, str]],
    usage: LLMUsage,
    dialogs_by: dict[str, Counter[tuple[str, str]]] | None = None,
) -> str:
    """The run's counts per stage, dialogues (accepted, rejected) by each of `dialogs_by` (a column
    of the dialogues: their type, their complexity band), rejections by step and rule, LLM usage
    and cost, and (for a run that simulates) the calls, tokens and dollars per accepted dialogue."""
    lines = ["## Stages", ""]
    lines += table(
        ["stage", "in", "out", "rejected", "unfinished", "seconds"],
        [[s.name, s.inputs, s.outputs, s.rejected, s.unfinished, f"{s.seconds:.1f}"] for s in stages],
    )
    for column, counts in (dialogs_by or {}).items():
        if kinds := sorted({kind for kind, _ in counts}, key=lambda k: (ORDER.get(k, len(ORDER)), k)):
            lines += ["", f"## Dialogues by {column}", ""]
            rows = [[kind, counts[(kind, "accepted")], counts[(kind, "rejected")]] for kind in kinds]
            lines += table([column, "accepted", "rejected"], rows)
    lines += ["", "## Rejections by rule", ""]
    by_rule = [[step, rule, n] for (step, rule), n in sorted(rejections.items())]
    lines += table(["step", "rule", "count"], by_rule) if by_rule else ["None."]
    lines += ["", "## LLM usage", ""]
    rows = [*usage.by_stage_role, usage]
    lines += table(
        ["stage", "role", "model", "calls", "cached", "errors", "tokens in", "tokens out", "cost (USD)"],
        [
            [getattr(r, "stage", "**all**"), getattr(r, "role", ""), getattr(r, "model", ""), r.calls,
             r.cache_hits, r.errors, r.prompt_tokens, r.completion_tokens, f"{r.cost_usd:.4f}"]
            for r in rows
        ],
    )  # fmt: skip
    accepted = [s.outputs for s in stages if s.name == "simulation"]
    if accepted:
        lines += ["", "## Per accepted dialogue", "", *per_accepted_markdown(usage.per_accepted(accepted[0]))]
    return "\n".join(lines) + "\n"


def concurrency_markdown(history: list[ConcurrencyChange]) -> str:
    """Per model (and per Dask worker, whose gateways each keep their own), what adaptive limiting
    did to its calls in flight: its changes, the lowest limit, the limit at the end, and the ceiling
    (`--concurrency`, or a worker's share of it)."""
    rows = [
        [name, len(changes), min(c.limit for c in changes), changes[-1].limit, changes[-1].ceiling]
        for name, changes in by_limit(history).items()
    ]
    header = ["model", "changes", "lowest", "at the end", "ceiling"]
    return "\n".join(["## Calls in flight (adaptive limit)", "", *table(header, rows)]) + "\n"


def forecast_check_markdown(check: ForecastCheck) -> str:
    """The run's figures beside its forecast (`tasks.forecast.forecast_check_rows`), under a heading."""
    made = f"{check.level:.0%} intervals, made {check.created_at:%Y-%m-%d %H:%M} UTC"
    rows = table(FORECAST_CHECK_HEADER, forecast_check_rows(check))
    return "\n".join([f"## Beside its forecast ({made})", "", *rows]) + "\n"


def checks_markdown(checks: list[CheckStats]) -> str:
    """Pass rates per check, by layer (rules, judge, dedup) in that order."""
    layers = {"rules": 0, "judge": 1, "dedup": 2}
    ordered = sorted(checks, key=lambda c: (layers[c.layer], c.check))
    rows = [[c.layer, c.check, c.dialogs, c.passed, f"{c.pass_rate:.3f}"] for c in ordered]
    return (
        "\n".join(
            ["## Pass rates per check", "", *table(["layer", "check", "dialogues", "passed", "rate"], rows)]
        )
        + "\n"
    )


def changes_markdown(changes: RunChanges) -> str:
    if changes.previous_run_id is None:
        return f"## Changes\n\nThe first run of series `{changes.series}`: nothing to compare with.\n"
    lines = [
        "## Changes",
        "",
        f"- since run `{changes.previous_run_id}` of series `{changes.series}`",
        f"- tools: {changes.tools_before} then, {changes.tools_after} now",
        f"- dialogues: {changes.dialogs_before} then, {changes.dialogs_after} now",
    ]
    for what, names in (("added", changes.added), ("removed", changes.removed), ("changed", changes.changed)):
        shown = ", ".join(names[:50]) + (f" and {len(names) - 50} more" if len(names) > 50 else "")
        lines.append(f"- tools {what} ({len(names)}): {shown or 'none'}")
    return "\n".join(lines) + "\n"


REPORT_HTML = "report.html"


def write_html_report(store: RunStore, run_id: str, statistics: CorpusStatistics | None = None) -> str:
    """Write the run's HTML report (`<run>/report.html`, one self-contained file); its path.
    `statistics` default to the manifest's, else they are counted from the run."""
    from tasks.html_report import render_report

    statistics = statistics or store.read_manifest(run_id).statistics or corpus_statistics(store, run_id)
    html = render_report(store, run_id, statistics)
    store.write_file(run_id, REPORT_HTML, html.encode())
    return posixpath.join(store.run_dir(run_id), REPORT_HTML)


COMMAND = CommandLine(
    "python -m flows.report",
    "Write a run's HTML report (<run folder>/report.html: statistics, charts, a dialogue "
    "browser; one self-contained file that works offline). Prints the file's path last.",
    (ModelOptions(RunCommand),),
)


def main(argv: list[str] | None = None) -> int:
    """The command line: the report's path as the last line of stdout and exit status 0; else one
    `error:` line on stderr and 2."""
    try:
        (args,) = COMMAND.parse(argv)
        store, run_id = resolve_run(args.run, args.out_dir)
        path = write_html_report(store, run_id)
    except (BadOption, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
