"""The run manifest (`manifest.json`): what a run read, did, spent and wrote."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.diversity import Diversity
from schemas.forecast_check import ForecastCheck
from schemas.limits import ConcurrencyChange
from schemas.statistics import CorpusStatistics
from schemas.verdict import CheckStats

RunStatus = Literal["running", "completed", "failed", "stopped"]
"""`stopped`: the run reached its budget (`--max-cost`, `--max-calls`) and took no more work; what it
finished is kept, and `--resume` with a higher budget carries on."""


class PartInfo(BaseModel):
    """One Parquet file of an artifact: its path relative to the run directory, rows, sha256 and bytes."""

    path: str
    rows: int
    sha256: str
    bytes: int


class ArtifactInfo(BaseModel):
    """One output of a run: a folder of Parquet parts (`tools/part-00000.parquet`, ...) written as the
    run went; `pd.read_parquet(<run>/<path>)` reads them as one table."""

    path: str
    rows: int = 0
    bytes: int = 0
    parts: list[PartInfo] = Field(default_factory=list)


class StageStats(BaseModel):
    """What one pipeline stage did: items in, items out, items rejected, items left unfinished (the run
    stopped first), and wall-clock seconds. inputs = outputs + rejected + unfinished."""

    name: str
    inputs: int
    outputs: int
    rejected: int
    unfinished: int = 0
    seconds: float


class UsageRow(BaseModel):
    """LLM usage of one (stage, role, model): calls, cache hits, errors, tokens and cost."""

    stage: str
    role: str
    model: str
    calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = Field(
        default=0.0, description="Seconds the calls took, each from request to answer (the model's latency)."
    )


class LLMUsage(BaseModel):
    """A run's LLM usage: totals over all rows, and the rows by (stage, role, model)."""

    calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    by_stage_role: list[UsageRow] = Field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: Iterable[UsageRow]) -> LLMUsage:
        """The usage whose totals are the sums of `rows`."""
        rows = list(rows)
        return cls(
            calls=sum(r.calls for r in rows),
            cache_hits=sum(r.cache_hits for r in rows),
            errors=sum(r.errors for r in rows),
            prompt_tokens=sum(r.prompt_tokens for r in rows),
            completion_tokens=sum(r.completion_tokens for r in rows),
            cost_usd=math.fsum(r.cost_usd for r in rows),
            by_stage_role=rows,
        )

    def per_accepted(self, dialogs: int) -> PerAccepted | None:
        """These figures per accepted dialogue, overall and per stage (None when none was accepted)."""
        if dialogs <= 0:
            return None

        def unit(stage: str, rows: list[UsageRow]) -> UnitCost:
            return UnitCost(
                stage=stage,
                calls=sum(r.calls for r in rows) / dialogs,
                prompt_tokens=sum(r.prompt_tokens for r in rows) / dialogs,
                completion_tokens=sum(r.completion_tokens for r in rows) / dialogs,
                cost_usd=math.fsum(r.cost_usd for r in rows) / dialogs,
            )

        stages = dict.fromkeys(r.stage for r in self.by_stage_role)
        return PerAccepted(
            dialogs=dialogs,
            overall=unit("all", self.by_stage_role),
            by_stage=[unit(s, [r for r in self.by_stage_role if r.stage == s]) for s in stages],
        )


class UnitCost(BaseModel):
    """Model calls, tokens and dollars per accepted dialogue: of one stage (`stage`), or of the whole
    run (`stage` "all"). What the rejected items and the stages before the simulation cost is in it:
    the price of one dialogue that made it into the corpus."""

    stage: str
    calls: float
    prompt_tokens: float
    completion_tokens: float
    cost_usd: float


class PerAccepted(BaseModel):
    """A run's LLM usage divided by its accepted dialogues: overall, then per stage
    (`LLMUsage.per_accepted`)."""

    dialogs: int = Field(description="Accepted dialogues the figures are divided by.")
    overall: UnitCost
    by_stage: list[UnitCost] = Field(default_factory=list)


class BudgetFigures(BaseModel):
    """A run's budget (`--max-cost`, `--max-calls`) and what it spent against it: dollars and model
    calls (answers from the cache are free and not counted), earlier parts of a resumed run included."""

    max_cost_usd: float | None = None
    max_calls: int | None = None
    spent_usd: float = 0.0
    calls: int = 0
    stopped: str | None = Field(
        default=None, description="Why the run stopped at its budget, when it did (`status` stopped)."
    )


class RunChanges(BaseModel):
    """What changed between a run of a series (a scheduled deployment's runs) and the series' previous
    completed run: tools by name, added, removed or changed (any field of the tool record), and counts."""

    series: str
    previous_run_id: str | None = None
    tools_before: int = 0
    tools_after: int = 0
    dialogs_before: int = 0
    dialogs_after: int = 0
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)


class Manifest(BaseModel):
    """The record of one run, written as `runs/<run_id>/manifest.json`.

    `config` must already be redacted (no keys or secrets); `inputs` maps each input's name to its
    sha256; `artifacts` maps each artifact's name (e.g. "tools") to the file written for it.
    """

    run_id: str
    started_at: datetime
    updated_at: datetime | None = Field(default=None, description="When this manifest was last written.")
    finished_at: datetime | None = None
    status: RunStatus
    code_version: str
    config: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(default_factory=dict)
    stages: list[StageStats] = Field(default_factory=list)
    llm: LLMUsage = Field(default_factory=LLMUsage)
    artifacts: dict[str, ArtifactInfo] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    flow_run_id: str | None = Field(default=None, description="The Prefect flow run that made the run.")
    task_runs: int = Field(default=0, description="Prefect task runs the run started.")
    resumed: list[datetime] = Field(default_factory=list, description="When the run was resumed, if it was.")
    process: str = Field(default="", description="`host:pid` of the process writing the run.")
    changes: RunChanges | None = Field(
        default=None, description="For a run of a series: what changed since its previous run."
    )
    checks: list[CheckStats] = Field(
        default_factory=list,
        description="Pass rates per check of the verification layers (rules, judge, dedup), at the end.",
    )
    diversity: Diversity | None = Field(
        default=None, description="How diverse the run's tools and accepted dialogues are, at the end."
    )
    statistics: CorpusStatistics | None = Field(
        default=None, description="ToolAlpaca's Table 1 and more for the run's corpus, at the end."
    )
    prompts: dict[str, str] = Field(
        default_factory=dict, description="The version of every prompt file the run's agents used."
    )
    concurrency: list[ConcurrencyChange] = Field(
        default_factory=list,
        description="Each change adaptive limiting made to a model's calls in flight, in order; with Dask "
        "workers, theirs too (each labelled with its worker), handed back at the end of the run.",
    )
    per_accepted: PerAccepted | None = Field(
        default=None,
        description="Model calls, tokens and dollars per accepted dialogue, overall and per stage.",
    )
    forecast: ForecastCheck | None = Field(
        default=None,
        description="The run's figures beside the forecast it was given (`--forecast`), at its end.",
    )
    budget: BudgetFigures | None = Field(
        default=None, description="The run's budget and what it spent against it, when it had one."
    )
