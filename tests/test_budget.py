"""A run's budget (`flows/budget.py`): the decision to start the next unit of work or stop, the
scheduler closed by a refusal, the refusal of a model without a price, `--price`, and the figures
per accepted dialogue on a known usage. No Prefect, no model: a usage ledger filled by hand."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from agents.llm.config import LLMConfig
from agents.llm.usage import UsageLedger
from flows.budget import Budget, BudgetSettings, refuse_unpriced
from flows.report import summary_markdown
from flows.scheduler import Admission, Scheduler, Stage
from schemas.errors import InputError
from schemas.manifest import LLMUsage, StageStats, UsageRow
from tests.support.run_units import returned


@dataclass
class Step:
    """A scheduler step as the budget reads it: items in flight and finished, one per item."""

    name: str
    in_flight: int = 0
    finished: int = 0

    @staticmethod
    def weight(item: Any) -> int:
        return 1


def spend(usage: UsageLedger, stage: str, calls: int, cost: float) -> None:
    for _ in range(calls):
        usage.record_call(stage, "user", "m", prompt_tokens=10, completion_tokens=5, cost_usd=cost / calls)


def test_a_budget_admits_work_while_the_spend_with_the_work_in_flight_stays_within_it():
    usage = UsageLedger()
    budget = Budget(BudgetSettings(max_calls=20), usage)
    toolset = Step("toolset")
    assert budget.admit([toolset], toolset, [1, 2, 3]) == "start"  # nothing known yet: one task run
    toolset.in_flight = 3
    assert budget.admit([toolset], toolset, [4, 5, 6]) == "wait"  # until its cost is known
    spend(usage, "toolset", 10, 0.0)
    toolset.in_flight, toolset.finished = 0, 5  # 2 calls an item
    assert budget.admit([toolset], toolset, [1, 2, 3]) == "start"  # 10 spent + 3 x 2 = 16 <= 20
    toolset.in_flight = 3
    assert budget.admit([toolset], toolset, [1, 2, 3]) == "stop"  # 10 + 3 x 2 in flight + 3 x 2 = 22 > 20
    assert budget.stopped is not None and "--max-calls 20 would be passed" in budget.stopped
    assert "10 model calls" in budget.stopped and "next toolset task run" in budget.stopped
    assert budget.admit([toolset], toolset, [1]) == "stop"  # the first refusal stops the run
    figures = budget.figures()
    assert figures is not None and (figures.calls, figures.max_calls) == (10, 20)
    assert figures.stopped == budget.stopped


def test_a_budget_spent_refuses_even_a_unit_of_a_step_whose_cost_is_not_known_yet():
    usage = UsageLedger()
    budget = Budget(BudgetSettings(max_cost=0.5), usage)
    judge = Step("judge")
    spend(usage, "simulation", 4, 0.5)
    assert budget.admit([judge], judge, [1]) == "stop"
    assert budget.stopped is not None and "--max-cost 0.5 is spent" in budget.stopped


def test_each_step_is_estimated_at_its_own_cost_per_item():
    usage = UsageLedger()
    budget = Budget(BudgetSettings(max_cost=1.0), usage)
    toolset, simulation = Step("toolset"), Step("simulation")
    assert budget.admit([toolset, simulation], toolset, [1]) == "start"
    spend(usage, "toolset", 2, 0.02)
    spend(usage, "simulation", 6, 0.3)
    toolset.finished, simulation.finished = 2, 3  # $0.01 a tool, $0.10 a dialogue; $0.32 spent
    assert budget.admit([toolset, simulation], toolset, list(range(60))) == "start"  # 0.32 + 0.60 <= 1
    simulation.in_flight = 4  # 0.32 + 0.40 + 0.30 = 1.02 > 1
    assert budget.admit([toolset, simulation], toolset, list(range(30))) == "stop"


def test_a_resumed_run_counts_its_earlier_spend_but_estimates_from_its_own_work():
    usage = UsageLedger()
    usage.include([UsageRow(stage="toolset", role="toolsmith", model="m", calls=50, cost_usd=0.5)])
    budget = Budget(BudgetSettings(max_cost=1.0), usage)
    toolset = Step("toolset")
    assert budget.admit([toolset], toolset, [1]) == "start"  # the earlier $0.50 is spent, not an estimate
    spend(usage, "toolset", 1, 0.01)
    toolset.finished = 1
    assert budget.admit([toolset], toolset, list(range(48))) == "start"  # 0.51 + 48 x 0.01 = 0.99
    assert budget.admit([toolset], toolset, list(range(50))) == "stop"


def test_without_a_budget_everything_is_admitted_and_nothing_is_written():
    usage = UsageLedger()
    spend(usage, "toolset", 1000, 100.0)
    budget = Budget(BudgetSettings(), usage)
    step = Step("toolset")
    assert budget.admit([step], step, [1]) == "start" and budget.figures() is None


def test_a_refused_batch_closes_the_scheduler_what_is_in_flight_finishes_and_steps_without_a_model_run():
    handled: list[list[int]] = []
    checked: list[int] = []
    refuse_after = 2

    def admit(stages: list[Stage], stage: Stage, batch: list[Any]) -> Admission:
        return "start" if len(handled) + stage.in_flight < refuse_after else "stop"

    def handle(batch: list[int], future: Future[Any]) -> list[int]:
        handled.append(batch)
        return batch

    model = Stage("model", submit=returned, handle=handle, to="checks", batch_size=1, limit=1)
    checks = Stage(
        "checks", run=lambda b: b, handle=lambda b, f: checked.extend(b) or [], batch_size=10, limit=100
    )
    scheduler = Scheduler([model, checks], tick=lambda runs: None, admit=admit)
    scheduler.feed("model", [1, 2, 3, 4])
    scheduler.run()
    assert handled == [[1], [2]] and checked == [1, 2]
    assert scheduler.closed and not scheduler.cancelled
    assert list(model.queue) == [3, 4] and model.waiting() == 2 and model.finished == 2


def test_a_batch_told_to_wait_goes_back_to_its_queue_and_starts_once_the_one_in_flight_is_done():
    handled: list[list[int]] = []
    most_in_flight = 0

    def admit(stages: list[Stage], stage: Stage, batch: list[Any]) -> Admission:
        nonlocal most_in_flight
        most_in_flight = max(most_in_flight, stage.in_flight)
        return "wait" if stage.in_flight else "start"

    def handle(batch: list[int], future: Future[Any]) -> list[int]:
        handled.append(batch)
        return []

    model = Stage("model", submit=returned, handle=handle, batch_size=1, limit=3)
    scheduler = Scheduler([model], tick=lambda runs: None, admit=admit)
    scheduler.feed("model", [1, 2, 3])
    scheduler.run()
    assert handled == [[1], [2], [3]] and most_in_flight == 1 and not scheduler.closed


def test_max_cost_refuses_a_model_without_a_price_and_says_how_to_give_one():
    llm = LLMConfig(model="hosted_vllm/served-model", api_base="http://127.0.0.1:9/v1")
    with pytest.raises(
        InputError, match=r"no price for hosted_vllm/served-model.*--price hosted_vllm/served"
    ):
        refuse_unpriced(llm, BudgetSettings(max_cost=1.0), ["user", "assistant"])
    refuse_unpriced(llm, BudgetSettings(max_calls=10), ["user"])  # calls need no price
    priced = llm.model_copy(update={"prices": {"hosted_vllm/served-model": "0.2/0.6"}})
    refuse_unpriced(priced, BudgetSettings(max_cost=1.0), ["user"])
    refuse_unpriced(LLMConfig(), BudgetSettings(max_cost=1.0), ["user"])  # the embedded model is free


def test_a_price_is_given_in_dollars_per_million_tokens_and_checked():
    llm = LLMConfig(prices={"hosted_vllm/m": "0.15/0.6"})
    assert llm.price_of("hosted_vllm/m") == pytest.approx((0.15e-6, 0.6e-6))
    assert llm.price_of("hosted_vllm/other") is None
    for bad in ("0.15", "cheap/0.6", "-1/2", "nan/1"):
        with pytest.raises(ValidationError, match=r"price of hosted_vllm/m: .* is not IN/OUT"):
            LLMConfig(prices={"hosted_vllm/m": bad})


def test_usage_per_accepted_dialogue_overall_and_per_stage():
    rows = [
        UsageRow(stage="toolset", role="toolsmith", model="m", calls=8, prompt_tokens=800,
                 completion_tokens=400, cost_usd=0.08),
        UsageRow(stage="simulation", role="user", model="m", calls=30, prompt_tokens=6000,
                 completion_tokens=1000, cost_usd=0.3),
        UsageRow(stage="simulation", role="assistant", model="m", calls=10, prompt_tokens=2000,
                 completion_tokens=600, cost_usd=0.12),
    ]  # fmt: skip
    usage = LLMUsage.from_rows(rows)
    per = usage.per_accepted(4)
    assert per is not None and per.dialogs == 4
    assert (per.overall.stage, per.overall.calls, per.overall.prompt_tokens) == ("all", 12.0, 2200.0)
    assert (per.overall.completion_tokens, per.overall.cost_usd) == (500.0, pytest.approx(0.125))
    by_stage = {unit.stage: unit for unit in per.by_stage}
    assert list(by_stage) == ["toolset", "simulation"]
    assert (by_stage["toolset"].calls, by_stage["toolset"].cost_usd) == (2.0, pytest.approx(0.02))
    assert (by_stage["simulation"].calls, by_stage["simulation"].prompt_tokens) == (10.0, 2000.0)
    assert by_stage["simulation"].cost_usd == pytest.approx(0.105)
    assert usage.per_accepted(0) is None


def test_the_run_s_summary_artifact_gives_the_figures_per_accepted_dialogue():
    row = UsageRow(stage="simulation", role="user", model="m", calls=4, prompt_tokens=100, cost_usd=0.02)
    usage = LLMUsage.from_rows([row.model_copy(update={"completion_tokens": 10})])
    simulated = StageStats(name="simulation", inputs=3, outputs=2, rejected=1, seconds=1.0)
    markdown = summary_markdown([simulated], Counter(), usage)
    section = markdown.split("## Per accepted dialogue\n\n")[1].splitlines()
    assert section[2:] == [
        "| simulation | 2.00 | 50 | 5 | $0.010000 |",
        "| all | 2.00 | 50 | 5 | $0.010000 |",
    ]
    toolset_only = StageStats(name="toolset", inputs=3, outputs=3, rejected=0, seconds=1.0)
    assert "Per accepted" not in summary_markdown([toolset_only], Counter(), usage)
