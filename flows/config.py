"""The settings of one corpus run: what to read, which models, which stages, and where to write."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from agents.llm.config import LLMConfig, is_local
from flows.budget import BudgetSettings
from schemas.option import Option
from schemas.verdict import JudgeMode
from tasks.forecast import ForecastSettings
from tasks.pool.plan import PoolSettings
from tasks.quality_rules import QualitySettings
from tasks.simulation import SimulationSettings
from tasks.toolset import ToolsetSettings

Stage = Literal["toolset", "instructions", "simulation"]
STAGES: tuple[Stage, ...] = ("toolset", "instructions", "simulation")
SeedFormat = Literal["markdown", "json", "csv", "parquet"]


class SeedSelection(BaseModel):
    """Which seed list to read and which of its APIs to use."""

    source: Annotated[str | None, Option(flag="seeds", metavar="PATH|URL")] = Field(
        default=None,
        description="The seed list: a public-apis README, JSON, CSV or Parquet, a path or an http(s) URL "
        "(default: the built-in list).",
    )
    format: Annotated[SeedFormat | None, Option(flag="seeds-format")] = Field(
        default=None, description="The seed list's format (default: by its extension)."
    )
    encoding: Annotated[str | None, Option(flag="seeds-encoding", metavar="ENCODING")] = Field(
        default=None,
        description="Text encoding of the seed list (e.g. latin-1, cp1252); default: UTF-8, else detected.",
    )
    limit: Annotated[int | None, Option(metavar="N")] = Field(
        default=None, ge=1, description="Use the first N selected seeds."
    )
    categories: Annotated[list[str], Option(metavar="NAME,...")] = Field(
        default_factory=list, description="Only the seeds of these categories."
    )
    sample: Annotated[int | None, Option(metavar="N")] = Field(
        default=None, ge=1, description="A stratified sample of N seeds by category."
    )
    sample_seed: Annotated[int, Option(flag="seed", metavar="S")] = Field(
        default=0, description="Random seed of --sample."
    )


class PartSettings(BaseModel):
    """How often a running run writes what it finished: a part per artifact every `rows` records or
    `seconds` seconds, whichever comes first (what a crash can lose, and a resume redoes)."""

    rows: Annotated[int, Option(flag="part-rows", metavar="N")] = Field(
        default=1000, ge=1, description="Write an artifact's finished records every N records ..."
    )
    seconds: Annotated[float, Option(flag="part-seconds", metavar="S")] = Field(
        default=10.0, gt=0, description="... or every S seconds, whichever comes first."
    )


class ExecutionSettings(BaseModel):
    """Where a run's task runs execute: threads of the flow's process (the default), or the worker
    processes of a Dask cluster (`dask`): a local one of `dask_workers` processes, or the running
    cluster at `dask_address`, on one machine or several. The records do not depend on it."""

    task_runner: Literal["threads", "dask"] = Field(
        default="threads",
        description="Where task runs execute: threads of this process, or Dask worker processes (on one "
        "machine or several).",
    )
    dask_address: Annotated[str | None, Option(metavar="ADDRESS")] = Field(
        default=None,
        description="A running Dask cluster's scheduler (tcp://host:8786); default: a local cluster.",
    )
    dask_workers: Annotated[int, Option(metavar="N")] = Field(
        default=2, ge=1, description="Worker processes of the local Dask cluster (no --dask-address)."
    )


class VerificationSettings(BaseModel):
    """The thresholds of the rule layer's quality rules (the layer always runs); what checks a
    dialogue after it: the judge model, and the corpus-wide dedup of requests; and what checks an
    instruction before it is simulated: its decontamination against test sets
    (`flows.decontamination`)."""

    quality: QualitySettings = Field(
        default_factory=QualitySettings,
        description="The model-free quality rules' thresholds (`tasks/quality_rules.py`).",
    )

    judge: JudgeMode | None = Field(
        default=None,
        description="The judge model's verdicts on each dialogue the rules accept (one call each): filter "
        "rejects what it fails, flag records its verdicts and keeps the dialogue, off asks nothing "
        "(default: flag with the embedded model, whose verdicts are noise; filter with any other).",
    )
    dedup_threshold: Annotated[float, Option(metavar="J")] = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Requests sharing this share of their words (Jaccard) are near-duplicates: the first "
        "by id is kept.",
    )
    decontaminate: Annotated[list[str], Option(metavar="SOURCE", repeat=True)] = Field(
        default_factory=list,
        description="Drop the instructions that near-duplicate a question of this test set: "
        "bfcl:CATEGORY[,...] (the installed bfcl-eval package's), a ToolAlpaca evaluation file, or a folder "
        "of JSON Lines files (the text in question, instruction or text); repeat the flag for several.",
    )
    decontaminate_threshold: Annotated[float, Option(metavar="J")] = Field(
        default=0.7,
        gt=0,
        le=1,
        description="An instruction sharing this share of its words (Jaccard) with a test question is "
        "dropped.",
    )


STAGES_GROUP = "stages"
"""The help's group of the options that choose what a run does (`flows/cli.py` adds `--resume`)."""


class CorpusConfig(BaseModel):
    """Everything a corpus run depends on. Contains no secrets: keys come from the environment."""

    seeds: Annotated[SeedSelection, Option(group="seeds")] = Field(default_factory=SeedSelection)
    llm: Annotated[LLMConfig, Option(group="models", flags={"seed": "llm-seed"})] = Field(
        default_factory=LLMConfig
    )
    toolset: Annotated[
        ToolsetSettings, Option(group=STAGES_GROUP, flags={"max_functions": "max-functions"})
    ] = Field(default_factory=ToolsetSettings)
    pool: Annotated[
        PoolSettings,
        Option(group="API pool (ToolACE's self-evolution)", flags={"max_functions": "max-functions"}),
    ] = Field(default_factory=PoolSettings)
    simulation: Annotated[SimulationSettings, Option(group="dialogues")] = Field(
        default_factory=SimulationSettings
    )
    stages: Annotated[list[Stage], Option(group=STAGES_GROUP, metavar="STAGE,...")] = Field(
        default_factory=lambda: list(STAGES),
        description=f"The stages to run, a comma-separated subset of {','.join(STAGES)}.",
    )
    from_run: Annotated[str | None, Option(group=STAGES_GROUP, metavar="RUN_ID")] = Field(
        default=None, description="Reuse an earlier run's toolset (its id, or 'latest')."
    )
    out: str = Field(default="out", description="The run store: a local path or an fsspec URL.")
    parts: PartSettings = Field(default_factory=PartSettings)
    execution: Annotated[ExecutionSettings, Option(group="execution")] = Field(
        default_factory=ExecutionSettings
    )
    verification: Annotated[VerificationSettings, Option(group="verification")] = Field(
        default_factory=VerificationSettings
    )
    budget: Annotated[BudgetSettings, Option(group="budget")] = Field(default_factory=BudgetSettings)
    forecast: Annotated[ForecastSettings, Option(group="budget")] = Field(default_factory=ForecastSettings)
    series: Annotated[str | None, Option(cli=False)] = Field(
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
        if self.verification.decontaminate and "instructions" not in self.stages:
            raise ValueError(
                "--decontaminate checks the instructions as they are written: keep the instructions stage"
            )
        if self.forecast.enabled and self.pool.size:
            raise ValueError("--forecast samples the seed list; it does not forecast an API pool (--evolve)")
        if self.forecast.enabled and "toolset" not in self.stages:
            raise ValueError("--forecast samples the seed list: keep the toolset stage")
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
