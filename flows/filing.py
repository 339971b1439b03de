"""A corpus run in progress: where each step's outcomes go, what the run holds so far, when it stops.

`CorpusRun` files every batch a step returns: outputs to their artifact (streamed in parts), each
rejection to its step's rejected records and to `rejections`, and the items the next step takes to
the scheduler. It also applies the corpus-wide dedup: of seeds before the toolset (the same API
listed twice), of requests once every dialogue is filed (`drop_duplicate_requests`).
It counts what it filed (for the manifest, the progress lines and the summary table), and it knows
what a resumed run already holds: what is in a run's parts is never done again.
"""

from __future__ import annotations

import os
import posixpath
import socket
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from prefect.futures import PrefectFuture

from agents.llm.errors import ModelUnavailable
from agents.llm.gateway import LLMGateway
from agents.llm.prompts import prompt_versions
from agents.llm.redact import redact
from flows.config import CorpusConfig
from flows.pool_growth import PoolGrowth
from flows.progress import ProgressBoard
from flows.scheduler import Scheduler
from schemas.dialog import Dialog
from schemas.diversity import Diversity
from schemas.manifest import Manifest, RunChanges, StageStats
from schemas.pool import PoolAPI
from schemas.rejection import Rejection
from schemas.seed import Seed
from schemas.simulation import Instruction
from schemas.statistics import CorpusStatistics
from schemas.tool import RejectedTool, Tool
from schemas.verdict import CheckStats, Verdict
from storage.run_store import RunStore, RunWriter
from tasks.batch import Batch, failure_reason
from tasks.checks import Checked
from tasks.code_version import code_version
from tasks.dedup import duplicate_requests, duplicate_seeds
from tasks.judge import failed_judgement
from tasks.simulation import ToolInstructions, failed_instructions, rejected_dialog
from tasks.toolset import failed_tool

T = TypeVar("T")
MANIFEST_EVERY_S = 10.0
"""The longest the manifest of a running run goes without being rewritten while parts land."""
HEARTBEAT_S = 60.0
"""The longest it goes without being rewritten at all: a manifest older than this is a sign of a
run that died (`flows.inputs.resumable_run`)."""
SUMMARY_ROWS = 1000
"""Rows of the run's summary table in the Prefect UI, at most (one per tool)."""


@dataclass(frozen=True)
class Simulation:
    """One unit of the simulation step: instructions of one tool (the tool travels with them, and the
    seeds whose tools its dialogues may offer beside it)."""

    tool: Tool
    instructions: list[Instruction]
    candidates: list[Seed] = field(default_factory=list)


class CorpusRun:
    """Files the outcomes of one run's steps; see the module's docstring."""

    def __init__(
        self, config: CorpusConfig, writer: RunWriter, gateway: LLMGateway, board: ProgressBoard
    ) -> None:
        self.config, self.writer, self.gateway, self.board = config, writer, gateway, board
        self.scheduler: Scheduler | None = None
        self.started_at = datetime.now(UTC)
        self.resumed: list[datetime] = []
        self.notes: list[str] = []
        self.changes: RunChanges | None = None
        self.checks: list[CheckStats] = []
        self.diversity: Diversity | None = None
        self.statistics: CorpusStatistics | None = None
        self.prompts = prompt_versions()  # the prompt files this process runs with, read once
        self.dedup_stats: CheckStats | None = None
        self.inputs: dict[str, str] = {}
        self.stopped: ModelUnavailable | None = None
        stages = config.stages
        self.judging = config.judging()

        def parts(name: str, model: type[Any]) -> Any:
            return writer.parts(name, model, rows=config.parts.rows, seconds=config.parts.seconds)

        self.seeds = parts("seeds", Seed)
        self.tools = parts("tools", Tool)
        self.rejected_tools = parts("rejected_tools", RejectedTool)
        self.rejections = parts("rejections", Rejection)
        writes_instructions = "instructions" in stages or "simulation" in stages
        self.instructions = parts("instructions", Instruction) if writes_instructions else None
        self.dialogs = parts("dialogs", Dialog) if "simulation" in stages else None
        self.rejected_dialogs = parts("rejected_dialogs", Dialog) if "simulation" in stages else None
        self.tools_with_instructions: set[str] = set()
        self.by_category: defaultdict[str, list[Seed]] = defaultdict(list)
        self.rejected_by_step: Counter[str] = Counter()
        self.per_tool: dict[str, Counter[str]] = {}
        self._manifest_at = 0.0
        self.pool: PoolGrowth | None = None
        if config.pool.size and "toolset" in stages:
            board.stage("pool", "APIs")
            self.pool = PoolGrowth(self, config.pool)
        for stage, unit in (("toolset", "tools"), ("instructions", "tools"), ("simulation", "dialogs")):
            if stage in stages:
                board.stage(stage, unit)

    # -- starting and resuming ----------------------------------------------------------------------

    def start_from_seeds(self, seeds: list[Seed]) -> list[Seed]:
        """File the run's seeds; the ones the toolset builds: all but those that list an API a seed
        before them lists already (each a `duplicate_tool` rejection of step `dedup`, naming it)."""
        self.seeds.add(seeds)
        self.seeds.flush(empty=True)
        self.expect("toolset", len(seeds))
        duplicates = {d.item_id: d for d in duplicate_seeds(seeds)}
        for seed in seeds:
            if seed.seed_id in duplicates:
                reason = duplicates[seed.seed_id].reason
                self.rejected_tools.add(
                    [
                        RejectedTool(
                            tool_id=seed.seed_id,
                            name=seed.name,
                            category=seed.category,
                            stage="dedup",
                            reason=reason,
                        )
                    ]
                )
                self.reject("dedup", seed.seed_id, "duplicate_tool", reason)
                self.board.advance("toolset", False)
        kept = [seed for seed in seeds if seed.seed_id not in duplicates]
        self.index_seeds(kept)
        return kept

    def index_seeds(self, seeds: Iterable[Seed], excluded: set[str] | None = None) -> None:
        """Know the run's seeds by category (but `excluded` ones), when dialogues offer several tools
        (only then)."""
        settings = self.config.simulation
        if settings.tools_per_dialog > 1 or settings.complexity == "hard":
            for seed in seeds:
                if seed.seed_id not in (excluded or set()):
                    self.by_category[seed.category].append(seed)

    def simulation(self, tool: Tool, instructions: list[Instruction]) -> Simulation:
        """The simulation unit of a tool's instructions: with the seeds of its category as the tools
        its dialogues may offer beside it, when they offer several."""
        return Simulation(tool, instructions, list(self.by_category.get(tool.category, [])))

    def copy_from(self, store: RunStore, run_id: str, names: Sequence[str]) -> None:
        """Take the named artifacts of an earlier run as this run's own (`--from-run`), part by part."""
        models = {"seeds": Seed, "tools": Tool, "rejected_tools": RejectedTool, "instructions": Instruction}
        for name in names:
            target = self.writer.parts(name, models[name], rows=self.config.parts.rows)
            for part in store.part_paths(run_id, name):
                target.add(store.read_part(part, models[name]))
            target.flush(empty=True)
            if name == "instructions":
                for instruction_tool in store.read_column(run_id, name, "tool_id"):
                    self.tools_with_instructions.add(str(instruction_tool))

    def done_ids(self, store: RunStore, run_id: str) -> dict[str, set[str]]:
        """What a resumed run's parts already hold, by step: the ids of the items each step filed (and
        the counts this run keeps, taken up where they were)."""

        def column(name: str, field: str) -> list[str]:
            return [str(value) for value in store.read_column(run_id, name, field)]

        rejections = store.read_records(run_id, "rejections", Rejection)
        self.rejected_by_step = Counter(r.step for r in rejections)
        instruction_tools = column("instructions", "tool_id")
        self.tools_with_instructions = set(instruction_tools)
        for tool_id in instruction_tools:
            self._tool_counts(tool_id)["instructions"] += 1
        for name, status in (("dialogs", "accepted"), ("rejected_dialogs", "rejected")):
            for tool_id in column(name, "tool_id"):
                self._tool_counts(tool_id)[status] += 1
        instructions_rejected = {r.item_id for r in rejections if r.step == "instructions"}
        return {
            "toolset": {*column("tools", "tool_id"), *column("rejected_tools", "tool_id")},
            "instructions": self.tools_with_instructions | instructions_rejected,
            "simulation": {*column("dialogs", "dialog_id"), *column("rejected_dialogs", "dialog_id")},
        }

    # -- filing ---------------------------------------------------------------------------------------

    def queue_pool_api(self, api: PoolAPI) -> None:
        """An API the pool kept, for the toolset step (after the seeds already queued)."""
        self.queue("toolset", [api])

    def file_tools(self, seeds: list[Seed | PoolAPI], future: PrefectFuture) -> None:
        batch = self.batch_of(future, seeds, failed_tool)
        for outcome in batch.outcomes:
            if isinstance(outcome, Tool):
                self.tools.add([outcome])
                self._tool_counts(outcome.tool_id)["functions"] = len(outcome.functions)
                if self.instructions is not None and "instructions" in self.config.stages:
                    self.queue("instructions", [outcome])
            else:
                self.rejected_tools.add([outcome])
                self.reject("toolset", outcome.tool_id, outcome.stage, outcome.reason)
            self.board.advance("toolset", isinstance(outcome, Tool))
        self.stop_if(batch)

    def file_instructions(self, tools: list[Tool], future: PrefectFuture) -> None:
        batch = self.batch_of(future, tools, failed_instructions)
        for tool, outcome in batch.results:
            self.file_tool_instructions(tool, outcome)
        self.stop_if(batch)

    def file_tool_instructions(self, tool: Tool, outcome: ToolInstructions) -> None:
        assert self.instructions is not None
        if outcome.instructions:
            self.instructions.add(outcome.instructions)  # one unit: a tool's instructions stay together
            self.tools_with_instructions.add(tool.tool_id)
            self._tool_counts(tool.tool_id)["instructions"] += len(outcome.instructions)
            if outcome.shortfall:
                self.notes.append(f"tool {tool.tool_id}: {outcome.shortfall}")
            if "simulation" in self.config.stages:
                unit = self.simulation(tool, outcome.instructions)
                self.queue("simulation", [unit], len(outcome.instructions))
        else:
            self.notes.append(f"tool {tool.tool_id}: no instructions: {outcome.problem}")
            self.reject("instructions", tool.tool_id, outcome.rule or "no_instructions", outcome.problem)
        self.board.advance("instructions", bool(outcome.instructions))

    def file_simulated(self, units: list[Simulation], future: PrefectFuture) -> None:
        (unit,) = units

        def failed(instruction: Instruction, reason: str, llm_failed: bool) -> Dialog:
            rule = "llm_error" if llm_failed else "task_failed"
            return rejected_dialog(unit.tool, instruction, rule, reason)

        batch = self.batch_of(future, unit.instructions, failed)
        assert self.scheduler is not None
        self.scheduler.feed("checks", batch.outcomes)
        self.stop_if(batch)

    def file_checked(self, dialogs: list[Dialog], future: Any) -> None:
        """The rule layer's outcome: the rejected dialogues filed, the accepted ones to the judge (or,
        without one, filed)."""
        checked: Checked = future.result()
        if self.judging and checked.accepted:
            assert self.scheduler is not None
            self.scheduler.feed("judge", checked.accepted)
            checked = Checked(rejected=checked.rejected, rejections=checked.rejections)
        self.file_dialogs(checked)

    def file_judged(self, dialogs: list[Dialog], future: PrefectFuture) -> None:
        """The judge's outcome (a batch whose task run failed: each dialogue `failed_judgement`)."""
        batch = self.batch_of(future, dialogs, failed_judgement)
        checked = Checked()
        for dialog in batch.outcomes:
            checked.file(dialog, "judge")
        self.file_dialogs(checked)
        self.stop_if(batch)

    def file_dialogs(self, checked: Checked) -> None:
        """Dialogues at the end of the verification steps: to `dialogs` or `rejected_dialogs`."""
        assert self.dialogs is not None and self.rejected_dialogs is not None
        self.dialogs.add(checked.accepted)
        self.rejected_dialogs.add(checked.rejected)
        self.rejections.add(checked.rejections)
        for rejection in checked.rejections:
            self.rejected_by_step[rejection.step] += 1
        for dialog in checked.accepted:
            self._tool_counts(dialog.tool_id)["accepted"] += 1
            self.board.advance("simulation", True)
        for dialog in checked.rejected:
            self._tool_counts(dialog.tool_id)["rejected"] += 1
            self.board.advance("simulation", False)

    def drop_duplicate_requests(self, store: RunStore) -> int:
        """The corpus-wide dedup of requests, once every dialogue is filed: of accepted dialogues whose
        first requests are near-duplicates, the first by id stays, the others move to
        `rejected_dialogs` (rule `duplicate_request`, naming the one kept; the parts that held them
        are written again). Deterministic whatever order the dialogues were filed in; a resumed run
        that died halfway through finishes it. How many it moved."""
        if self.dialogs is None or self.rejected_dialogs is None:
            return 0
        run_id = self.writer.run_id
        self.close_verification()
        moved = {str(i) for i in store.read_column(run_id, "rejected_dialogs", "dialog_id")}
        ids = [str(i) for i in store.read_column(run_id, "dialogs", "dialog_id")]
        texts = [str(t) for t in store.read_column(run_id, "dialogs", "instruction")]
        pairs = [(i, t) for i, t in zip(ids, texts, strict=True) if i not in moved]
        threshold = self.config.verification.dedup_threshold
        duplicates = {d.item_id: d for d in duplicate_requests(pairs, threshold=threshold)}
        self.dedup_stats = CheckStats(
            check="duplicate_request",
            layer="dedup",
            dialogs=len(pairs),
            passed=len(pairs) - len(duplicates),
            pass_rate=1 - len(duplicates) / len(pairs) if pairs else 1.0,
        )
        for path in store.part_paths(run_id, "dialogs"):
            records = store.read_part(path, Dialog)
            leaving = {r.dialog_id for r in records if r.dialog_id in duplicates or r.dialog_id in moved}
            if not leaving:
                continue
            rejected = []
            for dialog in (r for r in records if r.dialog_id in duplicates):
                reason = duplicates[dialog.dialog_id].reason
                verdict = Verdict(check="duplicate_request", layer="dedup", passed=False, reason=reason)
                rejected.append(dialog.with_verdicts([verdict]))
                self._tool_counts(dialog.tool_id).update({"accepted": -1, "rejected": 1})
                self.board.move_to_rejected("simulation")
            self.rejected_dialogs.add(rejected)
            for dialog in rejected:
                self.reject("dedup", dialog.dialog_id, "duplicate_request", dialog.rejection_reason)
            self.close_verification()  # the moved records are written before their part is rewritten
            kept = [r for r in records if r.dialog_id not in leaving]
            self.dialogs.replace(f"dialogs/{posixpath.basename(path)}", kept)
        return len(duplicates)

    def close_verification(self) -> None:
        for parts in (self.dialogs, self.rejected_dialogs, self.rejections):
            if parts is not None:
                parts.flush()

    def queue(self, stage: str, items: list[Any], count: int | None = None) -> None:
        """Hand items to a stage, counted for its progress line."""
        assert self.scheduler is not None
        self.scheduler.feed(stage, items)
        self.expect(stage, len(items) if count is None else count)

    def expect(self, stage: str, count: int) -> None:
        if stage in self.board.stages:
            self.board.expect(stage, count)

    def reject(self, step: str, item_id: str, rule: str, reason: str) -> None:
        self.rejections.add([Rejection(item_id=item_id, step=step, rule=rule, reason=reason)])
        self.rejected_by_step[step] += 1

    def stop(self, error: ModelUnavailable) -> None:
        """Stop the run: a model failed for good. Task runs not started are dropped, running ones end."""
        if self.stopped is None:
            self.stopped = error
            self.notes.append(f"stopped: {error}")
            if self.scheduler is not None:
                self.scheduler.cancel()

    def stop_if(self, batch: Batch[Any, Any]) -> None:
        """Stop the run when a batch's model stopped."""
        if batch.stopped is not None:
            self.stop(batch.stopped)

    def batch_of(
        self, future: PrefectFuture, items: Sequence[T], failed: Callable[[T, str, bool], Any]
    ) -> Batch[Any, Any]:
        """The batch's outcomes (its model calls added to the run's ledger); when its task run itself
        failed, a rejection for each item."""
        try:
            batch: Batch[Any, Any] = future.result()
            self.gateway.ledger.include(batch.usage)
            return batch
        except ModelUnavailable as stopped:
            return Batch(stopped=stopped)
        except Exception as exc:
            reason, llm_failed = failure_reason(exc)
            return Batch(results=[(item, failed(item, reason, llm_failed)) for item in items])

    def _tool_counts(self, tool_id: str) -> Counter[str]:
        return self.per_tool.setdefault(tool_id, Counter())

    # -- the record of the run ------------------------------------------------------------------------

    def stage_stats(self) -> list[StageStats]:
        """Inputs, outputs, rejections, unfinished items and wall time of each stage that ran."""
        rows = {name: info.rows for name, info in self.writer.artifacts.items()}
        apis, rejected_apis = rows.get("apis", 0), rows.get("rejected_apis", 0)
        seeds = 0 if self.config.pool.only else rows.get("seeds", 0)
        counts = {  # inputs, outputs, rejected, finished inputs
            "pool": (apis + rejected_apis, apis, rejected_apis),
            "toolset": (seeds + apis, rows.get("tools", 0), rows.get("rejected_tools", 0)),
            "instructions": (
                rows.get("tools", 0),
                rows.get("instructions", 0),
                self.rejected_by_step["instructions"],
            ),
            "simulation": (
                rows.get("instructions", 0),
                rows.get("dialogs", 0),
                rows.get("rejected_dialogs", 0),
            ),
        }
        finished = {
            "pool": apis + rejected_apis,
            "toolset": counts["toolset"][1] + counts["toolset"][2],
            "instructions": len(self.tools_with_instructions) + counts["instructions"][2],
            "simulation": counts["simulation"][1] + counts["simulation"][2],
        }
        return [
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

    def write_manifest(self, status: str) -> Manifest:
        from prefect.runtime import flow_run

        self._manifest_at = _now()
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
                llm=self.gateway.ledger.summary(),
                notes=[redact(n) for n in self.notes],
                flow_run_id=flow_run.get_id(),
                task_runs=self.scheduler.task_runs if self.scheduler else 0,
                resumed=self.resumed,
                process=f"{socket.gethostname()}:{os.getpid()}",
                changes=self.changes,
                checks=self.checks,
                diversity=self.diversity,
                statistics=self.statistics,
                prompts=self.prompts,
            )
        )

    def tick(self) -> None:
        """Write the parts whose time has come; rewrite the manifest when parts landed (at most every
        `MANIFEST_EVERY_S`), and at least every `HEARTBEAT_S`."""
        landed = self.writer.flush_due()
        since = _now() - self._manifest_at
        if (landed and since >= MANIFEST_EVERY_S) or since >= HEARTBEAT_S:
            self.write_manifest("running")

    def summary_rows(self) -> Iterator[dict[str, Any]]:
        """One row per tool: functions, instructions, accepted and rejected dialogues."""
        for tool_id in sorted(self.per_tool)[:SUMMARY_ROWS]:
            counts = self.per_tool[tool_id]
            yield {
                "tool": tool_id,
                "functions": counts["functions"],
                "instructions": counts["instructions"],
                "accepted": counts["accepted"],
                "rejected": counts["rejected"],
            }


def _now() -> float:
    return time.monotonic()
