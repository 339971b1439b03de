"""The scheduler hands each step's outputs to where the steps' declaration says (`Stage.to`): a step,
a step per type of item, or nowhere; it counts what it queues, tells the task runs it submitted, and
submits nothing more once the run must stop. Plain functions and futures: no Prefect."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from flows.scheduler import Scheduler, Stage
from tests.support.run_units import returned


def in_flow(name: str, work: Any, to: Any = None, **kwargs: Any) -> Stage:
    """A step run in the flow itself, whose handler returns what its work made of the batch."""
    return Stage(
        name,
        run=work,
        handle=lambda batch, future: future.result(),
        to=to,
        batch_size=10,
        limit=100,
        **kwargs,
    )


def collector(name: str, into: list[Any]) -> Stage:
    return Stage(
        name,
        run=lambda batch: batch,
        handle=lambda batch, future: into.extend(batch) or [],
        batch_size=10,
        limit=100,
    )


def test_a_steps_outputs_go_to_the_step_its_declaration_names():
    kept: list[int] = []
    scheduler = Scheduler(
        [in_flow("double", lambda xs: [2 * x for x in xs], to="keep"), collector("keep", kept)],
        tick=lambda runs: None,
    )
    scheduler.feed("double", [1, 2, 3])
    scheduler.run()
    assert kept == [2, 4, 6]


def test_outputs_are_routed_by_their_type_when_the_declaration_names_a_step_per_type():
    numbers: list[int] = []
    texts: list[str] = []
    scheduler = Scheduler(
        [
            in_flow("split", lambda items: items, to={int: "numbers", str: "texts"}),
            collector("numbers", numbers),
            collector("texts", texts),
        ],
        tick=lambda runs: None,
    )
    scheduler.feed("split", [1, "a", 2, "b"])
    scheduler.run()
    assert (numbers, texts) == ([1, 2], ["a", "b"])


def test_the_outputs_of_a_step_that_names_no_next_step_go_nowhere():
    kept: list[int] = []
    scheduler = Scheduler([in_flow("last", lambda xs: xs), collector("keep", kept)], tick=lambda runs: None)
    scheduler.feed("last", [1, 2])
    scheduler.run()
    assert kept == []


def test_a_declaration_that_names_a_step_the_run_lacks_is_refused():
    with pytest.raises(ValueError, match="step first hands its outputs to judge, which is not a step"):
        Scheduler([in_flow("first", lambda xs: xs, to="judge")], tick=lambda runs: None)


def test_what_is_queued_is_counted_by_the_items_it_stands_for():
    counted: list[tuple[str, int]] = []
    units = Stage("units", run=lambda b: b, handle=lambda b, f: [], batch_size=1, limit=100, weight=len)
    scheduler = Scheduler(
        [in_flow("make", lambda xs: [[x] * x for x in xs], to="units"), units],
        tick=lambda runs: None,
        queued=lambda stage, count: counted.append((stage, count)),
    )
    scheduler.feed("make", [2, 3])
    scheduler.run()
    assert counted == [("make", 2), ("units", 5)]


def test_once_the_run_must_stop_nothing_more_is_submitted_and_tick_tells_the_task_runs():
    handled: list[list[int]] = []
    ticks: list[int] = []

    def handle(batch: list[int], future: Future[Any]) -> list[Any]:
        handled.append(batch)
        return []

    step = Stage("step", submit=lambda batch: returned(batch), handle=handle, batch_size=1, limit=1)
    scheduler = Scheduler([step], tick=ticks.append, stop_when=lambda: bool(handled))
    scheduler.feed("step", [1, 2, 3])
    scheduler.run()
    assert handled == [[1]] and scheduler.cancelled
    assert ticks == [1]
