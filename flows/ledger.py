"""The record of a corpus run: what it filed, counted, and its manifest.

`RunLedger` counts what the steps file (rejections by step, per tool: functions, instructions,
accepted and rejected dialogues), files each rejection to the run's `rejections`, and keeps what the
manifest tells beside the counts (notes, inputs, the checks' pass rates, diversity, statistics). It
writes the manifest (`write_manifest`) with each stage's inputs, outputs, rejections and unfinished
items, the calls, tokens and dollars per accepted dialogue and the budget's figures (`flows/budget.py`),
and rewrites it while the run goes (`tick`): when parts landed, at most every
`MANIFEST_EVERY_S`, and at least every `HEARTBEAT_S`.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from agents.llm.gateway import LLMGateway
from agents.llm.prompts import prompt_versions
from agents.llm.redact import redact
from flows.budget import Budget
from flows.config import CorpusConfig
from flows.progress import ProgressBoard
from schemas.diversity import Diversity
from schemas.forecast import Forecast
from schemas.forecast_check import ForecastCheck
from schemas.limits import ConcurrencyChange
from schemas.manifest import LLMUsage, Manifest, RunChanges, StageStats
from schemas.rejection import Rejection
from schemas.statistics import CorpusStatistics
from schemas.verdict import CheckStats
from storage.run_store import PartWriter, RunWriter
from tasks.code_version import code_version
from tasks.forecast import forecast_check

MANIFEST_EVERY_S = 10.0
"""The longest the manifest of a running run goes without being rewritten while parts land."""
HEARTBEAT_S = 60.0
"""The longest it goes without being rewritten at all: a manifest older than this is a sign of a
run that died (`flows.inputs.resumable_run`)."""
SUMMARY_ROWS = 1000
"""Rows of the run's summary table in the Prefect UI, at most (one per tool)."""


class RunLedger:
    """The counts and the manifest of one run; see the module's docstring."""

    def __init__(
        self,
        config: CorpusConfig,
        writer: RunWriter,
        gateway: LLMGateway,
        board: ProgressBoard,
        rejections: PartWriter[Rejection],
    ) -> None:
        self.config, self.writer, self.gateway, self.board = config, writer, gateway, board
        self.rejections = rejections
        self.started_at = datetime.now(UTC)
        self.resumed: list[datetime] = []
        self.notes: list[str] = []
        self.inputs: dict[str, str] = {}
        self.changes: RunChanges | None = None
        self.checks: list[CheckStats] = []
        self.dedup_stats: CheckStats | None = None
        self.diversity: Diversity | None = None
        self.statistics: CorpusStatistics | None = None
        self.prompts = prompt_versions()  # the prompt files this process runs with, read once
        self.rejected_by_step: Counter[str] = Counter()
        self.per_tool: dict[str, Counter[str]] = {}
        self.tools_with_instructions: set[str] = set()
        self.budget = Budget(config.budget, gateway.ledger)
        self.forecast: Forecast | None = None
        """The forecast of the run's work, when one was made before it (`flows.forecast`)."""
        self.worker_concurrency: list[ConcurrencyChange] = []
        """The Dask workers' changes of adaptive concurrency, handed back at the end of the run."""
        self.clock = time.monotonic
        self._manifest_at = 0.0

    def expect(self, stage: str, count: int) -> None:
        """Items queued for a stage, counted for its progress line (when it has one)."""
        if stage in self.board.stages:
            self.board.expect(stage, count)

    def reject(self, step: str, item_id: str, rule: str, reason: str) -> None:
        """File a rejection of `step` to `rejections`, and count it."""
        self.rejections.add([Rejection(item_id=item_id, step=step, rule=rule, reason=reason)])
        self.rejected_by_step[step] += 1

    def tool_counts(self, tool_id: str) -> Counter[str]:
        """What the run filed of one tool: functions, instructions, accepted and rejected dialogues."""
        return self.per_tool.setdefault(tool_id, Counter())

    def stage_stats(self) -> list[StageStats]:
        """Inputs, outputs, rejections, unfinished items and wall time of each stage that ran."""
        rows = {name: info.rows for name, info in self.writer.artifacts.items()}
        apis, rejected_apis = rows.get("apis", 0), rows.get("rejected_apis", 0)
        seeds = 0 if self.config.pool.only else rows.get("seeds", 0)
        tools, instructions = rows.get("tools", 0), rows.get("instructions", 0)
        counts = {  # inputs, outputs, rejected
            "pool": (apis + rejected_apis, apis, rejected_apis),
            "toolset": (seeds + apis, tools, rows.get("rejected_tools", 0)),
            "instructions": (tools, instructions, self.rejected_by_step["instructions"]),
            "simulation": (instructions, rows.get("dialogs", 0), rows.get("rejected_dialogs", 0)),
        }
        finished = {
            "pool": apis + rejected_apis,
            "toolset": counts["toolset"][1] + counts["toolset"][2],
            "instructions": len(self.tools_with_instructions) + counts["instructions"][2],
            "simulation": counts["simulation"][1] + counts["simulation"][2],
        }
        stages = [
            StageStats(
                name=name,
                inputs=counts[name][0],
                outputs=counts[name][1],
                rejected=counts[name][2],
                unfinished=counts[name][0] - finished[name],
                seconds=progress.seconds,
            )
            for name, progress in self.board.stages.items()
        ]
        if self.config.verification.decontaminate:  # filed with the instructions: no time of its own
            dropped = self.rejected_by_step["decontamination"]
            stages.append(
                StageStats(name="decontamination", inputs=instructions + dropped, outputs=instructions,
                           rejected=dropped, seconds=0.0)
            )  # fmt: skip
        return stages

    def write_manifest(self, status: str, task_runs: int) -> Manifest:
        """The run's manifest, as it stands (`task_runs`: submitted so far), written."""
        from prefect.runtime import flow_run

        self._manifest_at = self.clock()
        llm = self.gateway.ledger.summary()
        return self.writer.write_manifest(
            Manifest(
                run_id=self.writer.run_id,
                started_at=self.started_at,
                finished_at=datetime.now(UTC) if status != "running" else None,
                status=status,  # type: ignore[arg-type]
                code_version=code_version(),
                config=self.config.public_dump(),
                inputs=self.inputs,
                stages=self.stage_stats(),
                llm=llm,
                notes=[redact(n) for n in self.notes],
                flow_run_id=flow_run.get_id(),
                task_runs=task_runs,
                resumed=self.resumed,
                process=f"{socket.gethostname()}:{os.getpid()}",
                changes=self.changes,
                checks=self.checks,
                diversity=self.diversity,
                statistics=self.statistics,
                prompts=self.prompts,
                concurrency=self.concurrency_history(),
                per_accepted=llm.per_accepted(self.accepted()),
                forecast=self.forecast_check(llm) if status == "completed" else None,
                budget=self.budget.figures(),
            )
        )

    def accepted(self) -> int:
        """The dialogues the run has accepted, in its parts so far."""
        return self.writer.artifacts["dialogs"].rows if "dialogs" in self.writer.artifacts else 0

    def forecast_check(self, llm: LLMUsage) -> ForecastCheck | None:
        """The run's figures so far (`llm`: its usage) beside its forecast, when it was given one."""
        if self.forecast is None:
            return None
        seconds = (datetime.now(UTC) - self.started_at).total_seconds()
        return forecast_check(self.forecast, llm, self.accepted(), seconds)

    def concurrency_history(self) -> list[ConcurrencyChange]:
        """Every change adaptive limiting made to a model's calls in flight, in this process and (once
        they handed them back) in the Dask workers, in time order."""
        return sorted(
            [*self.gateway.limits.history(), *self.worker_concurrency], key=lambda change: change.at
        )

    def tick(self, task_runs: int) -> None:
        """Write the parts whose time has come; rewrite the manifest when parts landed (at most every
        `MANIFEST_EVERY_S`), and at least every `HEARTBEAT_S`."""
        landed = self.writer.flush_due()
        since = self.clock() - self._manifest_at
        if (landed and since >= MANIFEST_EVERY_S) or since >= HEARTBEAT_S:
            self.write_manifest("running", task_runs)

    def summary_rows(self) -> Iterator[dict[str, Any]]:
        """One row per tool: functions, instructions, accepted and rejected dialogues."""
        for tool_id in sorted(self.per_tool)[:SUMMARY_ROWS]:
            counts = self.per_tool[tool_id]
            yield {"tool": tool_id} | {
                key: counts[key] for key in ("functions", "instructions", "accepted", "rejected")
            }
