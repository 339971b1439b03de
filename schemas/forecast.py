"""A forecast of a corpus run (`forecast.json`), projected from a sample of its seeds, and the check of
a run against the forecast it was given (the manifest's `forecast`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from schemas.forecast_check import Estimate
from schemas.manifest import UsageRow

FORECAST_JSON = "forecast.json"
ITEM_USAGE_JSON = "item_usage.json"


class ItemUsage(BaseModel):
    """The model calls one item of a step made (a seed at the toolset, a tool at the instructions, an
    instruction at the simulation, a dialogue at the judge): what a forecast projects from."""

    step: str
    item_id: str
    usage: list[UsageRow] = Field(default_factory=list)


class UsageEstimate(BaseModel):
    """The projected model usage of one (stage, role, model), or of the whole run (stage `all`)."""

    stage: str
    role: str
    model: str
    calls: Estimate
    prompt_tokens: Estimate
    completion_tokens: Estimate
    cost_usd: Estimate


class Forecast(BaseModel):
    """What a corpus run of this configuration will call, spend, make and take, projected from a
    stratified sample of its seeds run first (`python -m flows.corpus ... --forecast`).

    `usage` and `total` are of the run after the forecast: the sample's calls are in the cache, so
    they are not made again (`sample_usage`); `full_total` is the whole run's from an empty cache."""

    created_at: datetime
    fingerprint: str = Field(description="Of the settings that decide the run's work (`work_fingerprint`).")
    level: float = Field(description="The intervals' confidence level (Student's t over the sampled seeds).")
    seeds: int = Field(description="Seeds the run works (after the seed list's selection and dedup).")
    sample: list[str] = Field(description="The sampled seeds' ids.")
    sample_seed: int = Field(description="The draw's random seed (`--seed`): the same sample every time.")
    sample_run: str = Field(description="The sample's run folder.")
    sample_seconds: float = Field(description="Wall-clock seconds the sample's run took.")
    sample_usage: list[UsageRow] = Field(description="The model calls the sample made (now in the cache).")
    usage: list[UsageEstimate] = Field(description="Per (stage, role, model), the run after the forecast.")
    total: UsageEstimate = Field(description="The run after the forecast, all stages.")
    full_total: UsageEstimate = Field(description="The whole run from an empty cache, all stages.")
    dialogs: Estimate = Field(description="Dialogues simulated, accepted and rejected.")
    accepted: Estimate = Field(description="Dialogues accepted into the corpus.")
    cost_per_accepted: Estimate | None = Field(
        description="Dollars per accepted dialogue, the whole run's (None: the sample accepted none)."
    )
    calls_per_accepted: Estimate | None = Field(description="Model calls per accepted dialogue, likewise.")
    wall_seconds: Estimate = Field(
        description="Wall-clock seconds of the run after the forecast, at its concurrency and limits."
    )
    bound_by: str = Field(description="What bounds the wall time: calls in flight, or a model's rpm/tpm.")
    notes: list[str] = Field(default_factory=list)
