"""The settings of one corpus run: what to read, which models, which stages, and where to write."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from agents.llm.config import LLMConfig, is_local
from schemas.verdict import JudgeMode
from tasks.pool.plan import PoolSettings
from tasks.simulation import SimulationSettings
from tasks.toolset import ToolsetSettings

Stage = Literal["toolset", "instructions", "simulation"]
STAGES: tuple[Stage, ...] = ("toolset", "instructions", "simulation")


class SeedSelection(BaseModel):
    """Which seed list to read and which of its APIs to use."""

    source: str | None = Field(default=None, description="Path or http(s) URL; the built-in list when empty.")
    format: str | None = Field(default=None, description="markdown, json, csv or parquet; else by extension.")
    encoding: str | None = Field(
        default=None, description="Text encoding of the seed list; UTF-8 or detected when empty."
    )
    limit: int | None = Field(default=None, ge=1)
    categories: list[str] = Field(default_factory=list)
    sample: int | None = Field(default=None, ge=1, description="Stratified sample size (by category).")
    sample_seed: int = 0


class PartSettings(BaseModel):
    """How often a running run writes what it finished: a part per artifact every `rows` records or
    `seconds` seconds, whichever comes first (what a crash can lose, and a resume redoes)."""

    rows: int = Field(default=1000, ge=1)
    seconds: float = Field(default=10.0, gt=0)


class ExecutionSettings(BaseModel):
    """Where a run's task runs execute: threads of the flow's process (the default), or the worker
    processes of a Dask cluster (`dask`): a local one of `dask_workers` processes, or the running
    cluster at `dask_address`, on one machine or several. The records do not depend on it."""

    task_runner: Literal["threads", "dask"] = Field(
        default="threads", description="threads (one process) or dask (several processes or machines)."
    )
    dask_address: str | None = Field(
        default=None, description="Scheduler address of a running Dask cluster (tcp://host:8786)."
    )
    dask_workers: int = Field(
        default=2, ge=1, description="Worker processes of the local Dask cluster (no dask_address)."
    )


class VerificationSettings(BaseModel):
    """What checks a dialogue after the rule layer (which always runs): the judge model, and the
    corpus-wide dedup of requests."""

    judge: JudgeMode | None = Field(
        default=None,
        description="off, flag (record the judge's verdicts, keep the dialogue) or filter (reject what it "
        "fails); empty: flag with an embedded judge model (its verdicts are noise), else filter.",
    )
    dedup_threshold: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Requests sharing this share of their words (Jaccard) are near-duplicates: one is kept.",
    )


class CorpusConfig(BaseModel):
    """Everything a corpus run depends on. Contains no secrets: keys come from the environment."""

    seeds: SeedSelection = Field(default_factory=SeedSelection)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    toolset: ToolsetSettings = Field(default_factory=ToolsetSettings)
    pool: PoolSettings = Field(default_factory=PoolSettings)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)
    stages: list[Stage] = Field(default_factory=lambda: list(STAGES))
    from_run: str | None = Field(default=None, description="Run id (or 'latest') whose outputs are reused.")
    out: str = Field(default="out", description="Local path or fsspec URL of the run store.")
    parts: PartSettings = Field(default_factory=PartSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    series: str | None = Field(
        default=None,
        description="Name of the series this run belongs to (a scheduled deployment sets its own): the "
        "run reports what changed since the series' previous completed run in the same store.",
    )

    @model_validator(mode="after")
    def _stages_need_inputs(self) -> CorpusConfig:
        if not self.stages:
            raise ValueError("choose at least one stage")
        self.stages = [s for s in STAGES if s in self.stages]
        if "toolset" not in self.stages and self.from_run is None:
            raise ValueError(f"stages {self.stages} need a toolset: give --from-run RUN_ID (or latest)")
        if self.stages == ["toolset", "simulation"]:
            raise ValueError("the simulation needs instructions: add the instructions stage")
        if self.pool.size and "toolset" not in self.stages:
            raise ValueError("the API pool (--evolve) feeds the toolset: keep the toolset stage")
        if self.execution.dask_address and self.execution.task_runner != "dask":
            raise ValueError("--dask-address needs --task-runner dask")
        assistant = self.llm.model_for("assistant")
        if self.simulation.assistant_calls == "native" and is_local(assistant):
            raise ValueError(
                f"--assistant-calls native needs a model with function calling; the assistant's model "
                f"{assistant} is an embedded one, which has none: use --assistant-calls structured"
            )
        return self

    def judge_mode(self) -> JudgeMode:
        """`verification.judge`, else `flag` with an embedded judge model and `filter` with any other."""
        if self.verification.judge is not None:
            return self.verification.judge
        return "flag" if is_local(self.llm.model_for("judge")) else "filter"

    def judging(self) -> bool:
        """Whether the run calls the judge: it simulates, and `judge_mode()` is not `off`."""
        return "simulation" in self.stages and self.judge_mode() != "off"

    def public_dump(self) -> dict:
        """The configuration as written to the manifest: no credentials (`LLMConfig` holds them apart)."""
        return self.model_dump()
