"""`python -m flows.corpus ... --forecast`: a sample of the run's seeds run first, and the whole run
projected from it (`tasks/forecast.py`) before a dollar more is spent.

`forecast_run` draws the sample (stratified by category, the same for the same `--seed`), runs the
configured pipeline on it as a run of its own in `<out>/forecasts/` (every call made, none taken from
an earlier cache, each item's calls filed), projects the forecast from it, writes `forecast.json` in
the sample's run folder and a Prefect artifact, and returns the file's path. The sample's answers stay
in the cache: the run after it does not pay for them again.

A run whose work is that of a forecast (`work_fingerprint`: the same seeds, settings and models)
finds it (`given_forecast`), keeps a copy in its folder and, at its end, sets its figures beside the
forecast's in its manifest (`ForecastCheck`), report and last lines.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from prefect.artifacts import create_markdown_artifact
from pydantic import TypeAdapter

from flows.budget import BudgetSettings
from flows.config import CorpusConfig
from flows.inputs import load_seeds
from flows.seed_dedup import without_duplicates
from schemas.errors import InputError
from schemas.forecast import FORECAST_JSON, ITEM_USAGE_JSON, Forecast, ItemUsage
from schemas.seed import Seed
from storage.run_store import RunStore
from tasks.forecast import (
    ForecastSettings,
    draw_sample,
    forecast_table,
    make_forecast,
    seed_figures,
    work_fingerprint,
)

ITEM_USAGES = TypeAdapter(list[ItemUsage])
FORECASTS = "forecasts"
"""The folder under `--out` of the forecasts' sample runs (a run store of its own)."""


def forecast_store(config: CorpusConfig) -> RunStore:
    """The run store of the forecasts of runs into `config.out`."""
    return RunStore(f"{config.out.rstrip('/')}/{FORECASTS}")


def worked_seeds(config: CorpusConfig) -> tuple[list[Seed], str]:
    """The seeds a run of `config` builds (selected, duplicates left out), and the hash of the parsed
    seed list (part of the work's fingerprint)."""
    seeds, _, inputs = load_seeds(config)
    return without_duplicates(seeds), inputs["seeds_parsed"]


def fingerprint_of(config: CorpusConfig, seeds_parsed: str) -> str:
    """The work's fingerprint of a run of `config` over the parsed seed list `seeds_parsed`."""
    return work_fingerprint({**config.public_dump(), "seeds_parsed": seeds_parsed})


def sample_config(config: CorpusConfig, sample: list[str]) -> CorpusConfig:
    """The settings of a forecast's sample run: the run's own, on the `sample` seeds only, into the
    forecasts' store, every call made (`refresh_cache`) and no budget."""
    return config.model_copy(
        update={
            "forecast": ForecastSettings(tools=config.forecast.tools, sample=sample),
            "llm": config.llm.model_copy(update={"refresh_cache": True}),
            "budget": BudgetSettings(),
            "out": forecast_store(config).out,
            "series": None,
        }
    )


def forecast_run(config: CorpusConfig, run_id: str, run_sample: Callable[[CorpusConfig, str], str]) -> str:
    """The forecast of a run of `config` (see the module's docstring): the path of its
    `forecast.json`. `run_sample(config, run_id)` runs the sample (the corpus flow)."""
    seeds, seeds_parsed = worked_seeds(config)
    if len(seeds) < 2:
        raise InputError(f"--forecast: the run has {len(seeds)} seed(s) to build; a forecast needs 2 or more")
    sample = [
        s.seed_id
        for s in draw_sample(seeds, min(config.forecast.tools, len(seeds)), config.seeds.sample_seed)
    ]
    started = time.monotonic()
    run_dir = run_sample(sample_config(config, sample), run_id)
    seconds = time.monotonic() - started
    store = forecast_store(config)
    items = ITEM_USAGES.validate_json(store.read_file(run_id, ITEM_USAGE_JSON))
    dialogs, accepted = dialogues_by_tool(store, run_id)
    forecast = make_forecast(
        seed_figures(sample, items, dialogs, accepted),
        len(seeds),
        config.llm,
        fingerprint=fingerprint_of(config, seeds_parsed),
        sample_seed=config.seeds.sample_seed,
        sample_run=run_dir,
        sample_seconds=seconds,
    )
    forecast.notes += budget_notes(forecast, config.budget)
    store.write_file(run_id, FORECAST_JSON, forecast.model_dump_json(indent=2).encode() + b"\n")
    create_markdown_artifact(
        forecast_table(forecast), key="corpus-forecast", description=f"Forecast of a run ({len(seeds)} seeds)"
    )
    return f"{store.run_dir(run_id)}/{FORECAST_JSON}"


def dialogues_by_tool(store: RunStore, run_id: str) -> tuple[Counter[str], Counter[str]]:
    """A run's dialogues by tool id: all it simulated, and those accepted."""
    counts: dict[str, Counter[str]] = {"dialogs": Counter(), "rejected_dialogs": Counter()}
    for name, counter in counts.items():
        if store.has_artifact(run_id, name):
            counter.update(str(tool_id) for tool_id in store.read_column(run_id, name, "tool_id"))
    return counts["dialogs"] + counts["rejected_dialogs"], counts["dialogs"]


def budget_notes(forecast: Forecast, budget: BudgetSettings) -> list[str]:
    """What the run's budget would do to the run the forecast sees."""
    notes = []
    cost, calls = forecast.total.cost_usd, forecast.total.calls
    if budget.max_cost is not None and cost.high > budget.max_cost:
        share = min(1.0, budget.max_cost / cost.value) if cost.value else 1.0
        notes.append(f"--max-cost {budget.max_cost:g} may stop the run: it would stop at about {share:.0%} "
                     f"of the forecast's USD {cost.value:,.2f}")  # fmt: skip
    if budget.max_calls is not None and calls.high > budget.max_calls:
        share = min(1.0, budget.max_calls / calls.value) if calls.value else 1.0
        notes.append(f"--max-calls {budget.max_calls} may stop the run: it would stop at about {share:.0%} "
                     f"of the forecast's {calls.value:,.0f} calls")  # fmt: skip
    return notes


def given_forecast(config: CorpusConfig, seeds_parsed: str) -> Forecast | None:
    """The newest forecast of a run with the work of `config` over this seed list, if one was made."""
    store, fingerprint = forecast_store(config), fingerprint_of(config, seeds_parsed)
    for run_id in reversed(store.list_runs()):
        try:
            forecast = Forecast.model_validate_json(store.read_file(run_id, FORECAST_JSON))
        except FileNotFoundError:
            continue  # a sample run that did not finish
        if forecast.fingerprint == fingerprint:
            return forecast
    return None
