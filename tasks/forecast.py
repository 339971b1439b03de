"""A forecast of a corpus run, projected from a sample of its seeds (`--forecast`).

The flow (`flows/forecast.py`) runs the configured pipeline on a stratified, reproducible sample of
the run's seeds, every model call of it made (none answered from an earlier cache) and each item's
calls filed (`ItemUsage`). This module turns those into the forecast, with no model and no Prefect:

- each sampled seed's figures (`seed_figures`): the calls of its toolset item, its tool's
  instructions, its instructions' simulations and judgements, by (stage, role, model), and its
  dialogues, simulated and accepted;
- each figure of the whole run (`project`): the sample's sum, plus the seeds not sampled at the
  sample's mean, with the interval Student's t gives that mean over the sampled seeds (a prediction
  interval for the unsampled seeds' sum: `t * s * sqrt(N (N - k) / k)`); exact where every sampled
  seed gave the same figure, or every seed was sampled;
- the dollars and calls per accepted dialogue (a ratio estimate, its interval by the delta method);
- the wall time at the run's `--concurrency`, `--rpm` and `--tpm` (`wall_time`): the calls' time in
  the sample, per model, spread over the calls in flight, unless a model's limits take longer, plus
  the time the sample's run took beyond that (filling and draining the pipeline).

The run after a forecast makes every call but the sample's (they are in the cache): `Forecast.usage`
and `total` are of that run, `full_total` of the whole run from an empty cache.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from agents.llm.config import LLMConfig
from agents.llm.usage import UsageLedger
from schemas.forecast import Forecast, ItemUsage, UsageEstimate
from schemas.forecast_check import Estimate, ForecastCheck, ForecastFigure
from schemas.manifest import LLMUsage, UsageRow
from schemas.option import Option
from schemas.seed import Seed
from schemas.text import clipped
from tasks.seeds import stratified_sample

LEVEL = 0.9
"""The intervals' confidence level: two-sided, from Student's t at 0.95."""
_T95 = (6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782, 1.771, 1.761,
        1.753, 1.746, 1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701,
        1.699, 1.697)  # fmt: skip
"""Student's t, its 0.95 quantile, for 1 to 30 degrees of freedom."""
_Z95 = 1.6449
USAGE = ("calls", "prompt_tokens", "completion_tokens", "cost_usd")
COUNTED = (*USAGE, "seconds")
WORK_SETTINGS = ("seeds", "toolset", "pool", "simulation", "stages", "from_run", "verification")
"""The settings of a run that decide its work (and so its calls), beside the models'."""
WORK_LLM_SETTINGS = ("model", "role_models", "api_base", "temperature", "max_tokens", "seed",
                     "structured_output", "prices")  # fmt: skip


class ForecastSettings(BaseModel):
    """`--forecast`: run a sample of the seeds first, and project the whole run from it."""

    enabled: Annotated[bool, Option(flag="forecast")] = Field(
        default=False,
        description="Forecast the run instead of making it: run a stratified sample of --forecast-tools "
        "seeds (every call made, its answers cached for the run), then project the whole run's calls, "
        "tokens and dollars per stage, role and model, its accepted dialogues, the cost of each, and its "
        "wall time, each with a 90% interval; print the table and write forecast.json.",
    )
    tools: Annotated[int, Option(flag="forecast-tools", metavar="N")] = Field(
        default=6,
        ge=2,
        description="Seeds in the forecast's sample: drawn by category in proportion (--seed S).",
    )
    sample: Annotated[list[str], Option(cli=False)] = Field(
        default_factory=list,
        description="The seed ids a forecast's sample run works (the others are only offered beside "
        "them); it files each item's model calls (item_usage.json).",
    )


def t_quantile(df: int) -> float:
    """Student's t at 0.95 for `df` degrees of freedom (Cornish-Fisher's first term past the table)."""
    if df < 1:
        raise ValueError(f"at least one degree of freedom, not {df}")
    if df <= len(_T95):
        return _T95[df - 1]
    return _Z95 + (_Z95**3 + _Z95) / (4 * df)


def draw_sample(seeds: Sequence[Seed], size: int, seed: int) -> list[Seed]:
    """The forecast's sample: `size` seeds drawn by category in proportion, the same for `seed`."""
    return stratified_sample(seeds, size, seed=seed)


def sample_seeds(seeds: Sequence[Seed], sample: Sequence[str]) -> list[Seed]:
    """The seeds of a sample run: those `sample` names, in the list's order."""
    chosen = set(sample)
    return [s for s in seeds if s.seed_id in chosen]


def work_fingerprint(config_dump: dict[str, Any]) -> str:
    """A hash of the settings that decide a run's work (`WORK_SETTINGS`, the models'): a run and a
    forecast with the same one do the same work, whatever their concurrency, budget or folder."""
    llm = config_dump.get("llm", {})
    material = {name: config_dump.get(name) for name in WORK_SETTINGS}
    material["llm"] = {name: llm.get(name) for name in WORK_LLM_SETTINGS}
    canonical = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def seed_of(item: ItemUsage) -> str:
    """The seed an item comes from: a seed and a tool share their id; an instruction and its
    dialogue are `<tool_id>-<n>`."""
    if item.step in ("simulation", "judge"):
        return item.item_id.rsplit("-", 1)[0]
    return item.item_id


Key = tuple[str, str, str]


@dataclass
class SeedFigures:
    """One sampled seed's model calls by (stage, role, model), and its dialogues."""

    usage: UsageLedger = field(default_factory=UsageLedger)
    dialogs: int = 0
    accepted: int = 0

    def figure(self, name: str, key: Key | None = None) -> float:
        """The sum of `name` over the seed's calls, or over those of one (stage, role, model)."""
        rows = self.usage.rows()
        return math.fsum(getattr(r, name) for r in rows if key is None or (r.stage, r.role, r.model) == key)


def seed_figures(
    sample: Sequence[str], items: Iterable[ItemUsage], dialogs: Counter[str], accepted: Counter[str]
) -> dict[str, SeedFigures]:
    """Each sampled seed's figures: its items' calls (`items`), its tool's dialogues (`dialogs`,
    `accepted`: by tool id). A seed whose tool was rejected has calls and no dialogue: it counts."""
    figures = {seed_id: SeedFigures() for seed_id in sample}
    for item in items:
        owner = figures.get(seed_of(item))
        if owner is None:
            raise ValueError(f"forecast: item {item.item_id} of step {item.step} is of no sampled seed")
        owner.usage.include(item.usage)
    for seed_id, seed in figures.items():
        seed.dialogs, seed.accepted = dialogs[seed_id], accepted[seed_id]
    return figures


@dataclass(frozen=True)
class Projection:
    """A figure's sum over the sample, and the unsampled seeds' sum at the sample's mean with its
    interval: `whole` is the run's figure, `rest` that of the run after the forecast."""

    sample: float
    rest: Estimate

    @property
    def whole(self) -> Estimate:
        return Estimate(value=self.sample + self.rest.value, low=self.sample + self.rest.low,
                        high=self.sample + self.rest.high)  # fmt: skip


def project(values: Sequence[float], seeds: int) -> Projection:
    """The run's figure from the sampled seeds' `values` (one each) over `seeds` seeds in all: see
    the module's docstring. Never below zero (no figure is)."""
    k = len(values)
    if not 2 <= k <= seeds:
        raise ValueError(f"a projection needs 2 to {seeds} sampled seeds, not {k}")
    unsampled = seeds - k
    mean = math.fsum(values) / k
    half = t_quantile(k - 1) * statistics.stdev(values) * math.sqrt(seeds * unsampled / k)
    rest = unsampled * mean
    return Projection(math.fsum(values), Estimate(value=rest, low=max(0.0, rest - half), high=rest + half))


def ratio(numerators: Sequence[float], denominators: Sequence[float], seeds: int) -> Estimate | None:
    """The run's ratio of two figures (dollars per accepted dialogue) from the sampled seeds' pairs,
    with its delta-method interval; None when the sample's denominators sum to zero."""
    k, total = len(numerators), math.fsum(denominators)
    if total <= 0:
        return None
    value = math.fsum(numerators) / total
    residuals = [n - value * d for n, d in zip(numerators, denominators, strict=True)]
    spread = statistics.stdev(residuals) if k > 1 else 0.0
    half = t_quantile(k - 1) * math.sqrt(max(0.0, 1 - k / seeds) / k) * spread / (total / k)
    return Estimate(value=value, low=max(0.0, value - half), high=value + half)


def usage_estimate(key: Key, projections: dict[str, Projection], whole: bool) -> UsageEstimate:
    """The usage of `key` (stage, role, model) from its figures' projections: the whole run's, or the
    run's after the forecast."""
    figures = {name: projections[name].whole if whole else projections[name].rest for name in USAGE}
    return UsageEstimate(stage=key[0], role=key[1], model=key[2], **figures)


def wall_time(
    usage: Sequence[UsageEstimate], sample: Sequence[UsageRow], llm: LLMConfig, sample_seconds: float
) -> tuple[Estimate, str]:
    """The run's wall-clock seconds and what bounds them. A pipeline's time is the time its work
    takes at its rate, plus the time to fill and drain it: each model's calls at their mean time in
    the sample, spread over `--concurrency` calls in flight, or its calls and tokens at its `--rpm` and
    `--tpm`, whichever takes longest; plus what the sample's run took beyond its own calls' time so
    spread (one tool's way through the steps, call after call, and the run's start). The run's work
    on the CPU is otherwise left out."""
    latency: dict[str, float] = {}
    for model in {row.model for row in sample}:
        rows = [row for row in sample if row.model == model]
        calls = sum(row.calls for row in rows)
        latency[model] = math.fsum(row.seconds for row in rows) / calls if calls else 0.0

    def seconds(which: str) -> tuple[float, str]:
        by_model: dict[str, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
        for row in usage:
            calls, tokens = by_model[row.model]
            by_model[row.model] = (
                calls + getattr(row.calls, which),
                tokens + getattr(row.prompt_tokens, which) + getattr(row.completion_tokens, which),
            )
        in_flight = math.fsum(calls * latency.get(model, 0.0) for model, (calls, _) in by_model.items())
        bounds = [(in_flight / llm.concurrency, f"calls in flight (--concurrency {llm.concurrency})")]
        for model, (calls, tokens) in by_model.items():
            if rpm := llm.rpm.get(model) or llm.rpm.get("*"):
                bounds.append((60 * calls / rpm, f"--rpm {model}={rpm}"))
            if tpm := llm.tpm.get(model) or llm.tpm.get("*"):
                bounds.append((60 * tokens / tpm, f"--tpm {model}={tpm}"))
        return max(bounds)

    busy = math.fsum(row.seconds for row in sample) / llm.concurrency
    fill = max(0.0, sample_seconds - busy)
    value, bound = seconds("value")
    return Estimate(value=fill + value, low=fill + seconds("low")[0], high=fill + seconds("high")[0]), bound


def make_forecast(
    figures: dict[str, SeedFigures],
    seeds: int,
    llm: LLMConfig,
    *,
    fingerprint: str,
    sample_seed: int,
    sample_run: str,
    sample_seconds: float,
) -> Forecast:
    """The forecast of a run of `seeds` seeds from its sampled seeds' `figures`."""
    sampled = list(figures.values())
    sample = UsageLedger()
    for seed in sampled:
        sample.include(seed.usage.rows())
    sample_rows = sample.summary().by_stage_role  # by (stage, role, model), in that order
    keys = [(row.stage, row.role, row.model) for row in sample_rows]

    def projections(key: Key | None) -> dict[str, Projection]:
        return {name: project([s.figure(name, key) for s in sampled], seeds) for name in COUNTED}

    usage = [usage_estimate(key, projections(key), whole=False) for key in keys]
    overall = projections(None)
    wall, bound = wall_time(usage, sample_rows, llm, sample_seconds)
    accepted = [float(s.accepted) for s in sampled]
    per_accepted = ratio([s.figure("cost_usd") for s in sampled], accepted, seeds)
    calls_per = ratio([s.figure("calls") for s in sampled], accepted, seeds)
    notes = (
        [] if per_accepted is not None else ["the sample accepted no dialogue: no figure per accepted one"]
    )
    return Forecast(
        created_at=datetime.now(UTC),
        fingerprint=fingerprint,
        level=LEVEL,
        seeds=seeds,
        sample=list(figures),
        sample_seed=sample_seed,
        sample_run=sample_run,
        sample_seconds=sample_seconds,
        sample_usage=sample_rows,
        usage=usage,
        total=usage_estimate(("all", "", ""), overall, whole=False),
        full_total=usage_estimate(("all", "", ""), overall, whole=True),
        dialogs=project([float(s.dialogs) for s in sampled], seeds).whole,
        accepted=project(accepted, seeds).whole,
        cost_per_accepted=per_accepted,
        calls_per_accepted=calls_per,
        wall_seconds=wall,
        bound_by=bound,
        notes=notes,
    )


def _figure(estimate: Estimate, form: str) -> str:
    if estimate.low == estimate.high:
        return form.format(estimate.value)
    return f"{form.format(estimate.value)} ({form.format(estimate.low)}-{form.format(estimate.high)})"


def duration(seconds: float) -> str:
    """`2h05m`, `4m12s`, `38s`."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def forecast_table(forecast: Forecast) -> str:
    """The forecast as a Markdown table, with its figures per accepted dialogue and its wall time."""
    paid = sum(row.calls for row in forecast.sample_usage)
    lines = [
        f"Forecast of a corpus run of {forecast.seeds:,} seeds, from {len(forecast.sample)} sampled "
        f"({forecast.sample_seconds:.0f} s, {paid:,} calls, now cached); {forecast.level:.0%} intervals.",
        "",
        "| stage | role | model | calls | prompt tokens | completion tokens | USD |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in [*forecast.usage, forecast.total]:
        cells = [row.stage if row.stage != "all" else "**all**", row.role, clipped(row.model, 40)]
        cells += [_figure(row.calls, "{:,.0f}"), _figure(row.prompt_tokens, "{:,.0f}")]
        cells += [_figure(row.completion_tokens, "{:,.0f}"), _figure(row.cost_usd, "{:,.2f}")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"- dialogues accepted: {_figure(forecast.accepted, '{:,.0f}')} of "
                  f"{_figure(forecast.dialogs, '{:,.0f}')} simulated"]  # fmt: skip
    if forecast.cost_per_accepted is not None and forecast.calls_per_accepted is not None:
        lines.append(
            f"- per accepted dialogue: USD {_figure(forecast.cost_per_accepted, '{:,.6f}')}, "
            f"{_figure(forecast.calls_per_accepted, '{:,.1f}')} calls"
        )
    wall = forecast.wall_seconds
    spread = "" if wall.low == wall.high else f" ({duration(wall.low)}-{duration(wall.high)})"
    lines.append(f"- wall time: {duration(wall.value)}{spread}, bound by {forecast.bound_by}")
    lines += [f"- {note}" for note in forecast.notes]
    return "\n".join(lines)


def forecast_check(forecast: Forecast, usage: LLMUsage, accepted: int, seconds: float) -> ForecastCheck:
    """A finished run's figures beside `forecast`: its model calls, tokens and dollars in the stages
    the forecast saw (the models' check left out), its accepted dialogues, the dollars of each (the
    sample's, in the cache, counted in), and its wall time."""
    stages = {row.stage for row in forecast.usage}
    rows = [row for row in usage.by_stage_role if row.stage in stages]
    cost = math.fsum(row.cost_usd for row in rows)
    actual = {
        "model calls": (forecast.total.calls, sum(row.calls for row in rows)),
        "prompt tokens": (forecast.total.prompt_tokens, sum(row.prompt_tokens for row in rows)),
        "completion tokens": (forecast.total.completion_tokens, sum(row.completion_tokens for row in rows)),
        "USD": (forecast.total.cost_usd, cost),
        "dialogues accepted": (forecast.accepted, accepted),
        "wall seconds": (forecast.wall_seconds, seconds),
    }
    if forecast.cost_per_accepted is not None and accepted:
        paid = math.fsum(row.cost_usd for row in forecast.sample_usage)
        actual["USD per accepted dialogue"] = (forecast.cost_per_accepted, (cost + paid) / accepted)
    figures = [
        ForecastFigure(name=name, forecast=estimate, actual=value, within=estimate.holds(value))
        for name, (estimate, value) in actual.items()
    ]
    return ForecastCheck(created_at=forecast.created_at, level=forecast.level, figures=figures)


FORECAST_CHECK_HEADER = ["figure", "forecast", "interval", "actual", "within"]


def forecast_check_rows(check: ForecastCheck) -> list[list[str]]:
    """A run's figures beside its forecast as table rows (`FORECAST_CHECK_HEADER`)."""
    form = {"USD": "{:,.4f}", "USD per accepted dialogue": "{:,.6f}", "wall seconds": "{:,.1f}"}
    rows = []
    for figure in check.figures:
        text = form.get(figure.name, "{:,.0f}").format
        interval = f"{text(figure.forecast.low)}-{text(figure.forecast.high)}"
        rows.append([figure.name, text(figure.forecast.value), interval, text(figure.actual),
                     "yes" if figure.within else "no"])  # fmt: skip
    return rows


def forecast_check_line(check: ForecastCheck) -> str:
    """The run's last lines' word on its forecast: which figures fell in their interval."""
    missed = [figure.name for figure in check.figures if not figure.within]
    held = len(check.figures) - len(missed)
    outside = f"; outside: {', '.join(missed)}" if missed else ""
    return f"beside its forecast: {held} of {len(check.figures)} figures within their intervals{outside}"
