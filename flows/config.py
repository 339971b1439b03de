"""The settings of one corpus run: what to read, which models, which stages, and where to write."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from agents.llm.config import LOCAL_PROVIDER, LLMConfig
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


class CorpusConfig(BaseModel):
    """Everything a corpus run depends on. Contains no secrets: keys come from the environment."""

    seeds: SeedSelection = Field(default_factory=SeedSelection)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    toolset: ToolsetSettings = Field(default_factory=ToolsetSettings)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)
    stages: list[Stage] = Field(default_factory=lambda: list(STAGES))
    from_run: str | None = Field(default=None, description="Run id (or 'latest') whose outputs are reused.")
    out: str = Field(default="out", description="Local path or fsspec URL of the run store.")
    parts: PartSettings = Field(default_factory=PartSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
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
        if self.execution.dask_address and self.execution.task_runner != "dask":
            raise ValueError("--dask-address needs --task-runner dask")
        assistant = self.llm.model_for("assistant")
        if self.simulation.assistant_calls == "native" and assistant.startswith(f"{LOCAL_PROVIDER}/"):
            raise ValueError(
                f"--assistant-calls native needs a model with function calling; the assistant's model "
                f"{assistant} is an embedded one, which has none: use --assistant-calls structured"
            )
        return self

    def public_dump(self) -> dict:
        """The configuration as written to the manifest: no credentials (`LLMConfig` holds them apart)."""
        return self.model_dump()
