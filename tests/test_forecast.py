"""The forecast's arithmetic (`tasks/forecast.py`): a sampled seed's figures, their projection to the
whole run with its interval, the figures per accepted dialogue, the wall time at the run's limits, the
fingerprint that ties a run to its forecast, and a run's figures beside it. No model, no Prefect."""

from __future__ import annotations

import math
import statistics
from collections import Counter

import pytest

from agents.llm.config import LLMConfig
from flows.config import CorpusConfig
from schemas.forecast import ItemUsage
from schemas.forecast_check import Estimate
from schemas.manifest import LLMUsage, UsageRow
from tasks.forecast import (
    SeedFigures,
    forecast_check,
    forecast_table,
    make_forecast,
    project,
    ratio,
    seed_figures,
    t_quantile,
    wall_time,
    work_fingerprint,
)


def row(stage: str, calls: int, role: str = "user", model: str = "m", seconds: float = 0.0) -> UsageRow:
    return UsageRow(stage=stage, role=role, model=model, calls=calls, prompt_tokens=100 * calls,
                    completion_tokens=10 * calls, cost_usd=0.01 * calls, seconds=seconds)  # fmt: skip


def figures_of(calls: dict[str, int], accepted: dict[str, int]) -> dict[str, SeedFigures]:
    """Seeds whose toolset item made `calls[seed]` calls of 1 s each, with `accepted[seed]` dialogues."""
    items = [
        ItemUsage(step="toolset", item_id=s, usage=[row("toolset", n, seconds=n)]) for s, n in calls.items()
    ]
    return seed_figures(list(calls), items, Counter(accepted), Counter(accepted))


def test_t_quantile_is_students_and_tends_to_the_normal():
    assert t_quantile(1) == 6.314 and t_quantile(5) == 2.015 and t_quantile(30) == 1.697
    assert t_quantile(31) == pytest.approx(1.695, abs=2e-3) and t_quantile(10_000) == pytest.approx(
        1.645, abs=1e-3
    )
    with pytest.raises(ValueError):
        t_quantile(0)


def test_seeds_alike_project_exactly_and_a_whole_sample_has_nothing_left_to_guess():
    exact = project([4.0, 4.0, 4.0], seeds=300)
    assert exact.sample == 12 and exact.rest == Estimate(value=1188, low=1188, high=1188)
    assert exact.whole == Estimate(value=1200, low=1200, high=1200)
    everything = project([1.0, 5.0, 9.0], seeds=3)
    assert everything.whole == Estimate(value=15, low=15, high=15)


def test_the_interval_is_the_t_prediction_interval_of_the_unsampled_seeds_sum():
    values, seeds = [2.0, 4.0, 9.0, 5.0], 100
    projection = project(values, seeds)
    half = t_quantile(3) * statistics.stdev(values) * math.sqrt(seeds * (seeds - 4) / 4)
    assert projection.rest.value == pytest.approx(96 * 5.0)
    assert projection.rest.high - projection.rest.value == pytest.approx(half)
    assert projection.whole.value == pytest.approx(20 + 480)
    assert project([0.0, 0.0, 0.0, 30.0], 1000).rest.low == 0  # never below zero
    with pytest.raises(ValueError, match="2 to 10"):
        project([1.0], 10)


def test_the_figure_per_accepted_dialogue_is_a_ratio_with_its_interval():
    value = ratio([1.0, 3.0, 2.0], [1.0, 3.0, 2.0], seeds=50)
    assert value == Estimate(value=1.0, low=1.0, high=1.0)  # a dollar a dialogue in every seed
    spread = ratio([1.0, 6.0, 2.0], [1.0, 3.0, 2.0], seeds=50)
    assert spread is not None and spread.value == pytest.approx(1.5) and spread.low < 1.5 < spread.high
    assert ratio([1.0, 2.0], [0.0, 0.0], seeds=10) is None


def test_an_items_calls_count_for_the_seed_it_comes_from():
    simulated = row("simulation", 1, "executor")
    items = [
        ItemUsage(step="toolset", item_id="dog-facts", usage=[row("toolset", 2)]),
        ItemUsage(step="instructions", item_id="dog-facts", usage=[row("instructions", 1)]),
        ItemUsage(step="simulation", item_id="dog-facts-3", usage=[row("simulation", 4), simulated]),
        ItemUsage(step="judge", item_id="dog-facts-3", usage=[row("judge", 1, "judge")]),
        ItemUsage(step="toolset", item_id="cat-facts", usage=[row("toolset", 2)]),
    ]  # fmt: skip
    figures = seed_figures(
        ["dog-facts", "cat-facts"], items, Counter({"dog-facts": 3}), Counter({"dog-facts": 2})
    )
    dog = figures["dog-facts"]
    assert dog.figure("calls") == 9 and dog.figure("calls", ("simulation", "executor", "m")) == 1
    assert (dog.dialogs, dog.accepted) == (3, 2) and figures["cat-facts"].accepted == 0
    with pytest.raises(ValueError, match="item bird-1 of step judge is of no sampled seed"):
        seed_figures(["dog-facts"], [ItemUsage(step="judge", item_id="bird-1")], Counter(), Counter())


def test_the_wall_time_is_the_calls_time_over_the_calls_in_flight_unless_a_limit_takes_longer():
    forecast = make_forecast(
        figures_of({"a": 3, "b": 3}, {"a": 1, "b": 1}), 102, LLMConfig(model="m", concurrency=10),
        fingerprint="f", sample_seed=0, sample_run="r", sample_seconds=1.0,
    )  # fmt: skip
    assert forecast.total.calls.value == 300 and forecast.full_total.calls.value == 306
    # 1 s a call, 10 at a time; and what the sample took beyond its 6 calls so spread: 1 - 0.6 s
    assert forecast.wall_seconds.value == pytest.approx(300 * 1.0 / 10 + 0.4)
    assert forecast.bound_by == "calls in flight (--concurrency 10)"
    limited = LLMConfig(model="m", concurrency=10, rpm={"*": 60}, tpm={"m": 1_000_000})
    seconds, bound = wall_time(forecast.usage, forecast.sample_usage, limited, sample_seconds=0.1)
    assert seconds.value == pytest.approx(300.0) and bound == "--rpm m=60"  # a call a second


def test_a_run_is_told_beside_its_forecast_and_the_table_shows_the_intervals():
    forecast = make_forecast(
        figures_of({"a": 2, "b": 4, "c": 3}, {"a": 1, "b": 2, "c": 1}), 30, LLMConfig(model="m"),
        fingerprint="f", sample_seed=0, sample_run="r", sample_seconds=1.0,
    )  # fmt: skip
    calls = forecast.total.calls
    assert calls.value == 27 * 3 and calls.low < calls.value < calls.high  # the 27 seeds not sampled
    usage = LLMUsage.from_rows(
        [row("toolset", 60), row("preflight", 1)]
    )  # the models' check is not the work's
    check = forecast_check(forecast, usage, accepted=38, seconds=1e6)
    by_name = {figure.name: figure for figure in check.figures}
    assert by_name["model calls"].actual == 60 and by_name["model calls"].within
    assert by_name["dialogues accepted"].within and not by_name["wall seconds"].within
    assert by_name["USD per accepted dialogue"].actual == pytest.approx((0.6 + 0.09) / 38)
    table = forecast_table(forecast)
    assert (
        "| **all** |  |  | 81 (" in table
        and "from 3 sampled" in table
        and "bound by calls in flight" in table
    )


def test_a_forecast_is_for_the_work_whatever_the_runs_pace_budget_or_folder():
    config = CorpusConfig()
    same = config.model_copy(
        update={
            "out": "elsewhere",
            "llm": config.llm.model_copy(
                update={"concurrency": 64, "rpm": {"*": 600}, "refresh_cache": True}
            ),
            "budget": config.budget.model_copy(update={"max_cost": 5.0}),
        }
    )
    other_model = config.model_copy(update={"llm": config.llm.model_copy(update={"model": "gpt-4o-mini"})})
    other_seeds = config.model_copy(update={"seeds": config.seeds.model_copy(update={"limit": 5})})
    prints = [work_fingerprint(c.public_dump()) for c in (config, same, other_model, other_seeds)]
    assert prints[0] == prints[1] and len(set(prints)) == 3
