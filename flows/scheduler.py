"""Drives a run's steps with bounded work in flight: later steps first, nothing queued without limit.

Each `Stage` takes items from its queue in batches, submits a batch as one Prefect task run, and
files the batch's result when it completes; what the filing returns (the items the step produced)
the scheduler hands on to the stage the step's declaration names (`Stage.to`). The
scheduler fills stages from the last to the first, so a dialogue under way is finished before a
new seed is started, and it holds a stage back while the next one already has a full queue: the
items in flight and queued stay bounded whatever the length of the seed list, and memory with them.
The first stage reads its items lazily from an iterator.

Between completions the scheduler calls `tick` at least every `tick_s` seconds (the run writes the
parts whose time has come, and its manifest). Once `stop_when()` says so, it submits nothing more.
Before it submits a batch it asks `admit(stages, stage, batch)` (the run's budget, `flows/budget.py`):
"start" it; "wait" for the stage's task runs in flight first (the batch goes back to its queue); or
"stop": the first batch refused closes the scheduler to new task runs, what is in flight finishes and
is handed on, and stages run in the flow itself (`Stage.run`) still run.
"""

from __future__ import annotations

import itertools
import queue
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from prefect.futures import PrefectFuture

Admission = Literal["start", "wait", "stop"]
"""What `Scheduler.admit` says of a batch: start its task run, wait for those in flight, or stop."""


@dataclass
class Stage:
    """One step as the scheduler drives it.

    `submit(batch)` starts a task run for a batch of items and returns its future; `handle(batch,
    future)` files its outcome once done and returns the items it produced for the steps after it,
    which go where `to` says: the name of a stage, a stage per type of item, or nowhere (None: the
    run ends at this step). At most `limit` items are in flight at once, and the
    stage before this one stops feeding it while `limit` items wait in its queue. A stage made with
    `run` instead of `submit` is a plain function run in the flow itself (a cheap check, say): each
    batch is run and handled at once.
    """

    name: str
    handle: Callable[[list[Any], Any], list[Any]]
    batch_size: int
    limit: int
    to: str | dict[type, str] | None = None
    submit: Callable[[list[Any]], PrefectFuture] | None = None
    run: Callable[[list[Any]], Any] | None = None
    weight: Callable[[Any], int] = lambda item: 1
    """How many items one queued item stands for (a tool's instructions count each)."""
    queue: deque[Any] = field(default_factory=deque)
    source: Iterator[Any] | None = None
    in_flight: int = 0
    queued: int = 0
    finished: int = 0
    """Items of task runs that completed (how many they stand for)."""

    def waiting(self) -> int:
        return self.queued

    def put(self, items: Iterable[Any]) -> int:
        """Queue items; how many they stand for (`weight`)."""
        added = 0
        for item in items:
            self.queue.append(item)
            added += self.weight(item)
        self.queued += added
        return added

    def take(self) -> list[Any]:
        """The next batch: queued items first, then the source's."""
        batch = [self.queue.popleft() for _ in range(min(self.batch_size, len(self.queue)))]
        self.queued -= sum(self.weight(item) for item in batch)
        if len(batch) < self.batch_size and self.source is not None:
            more = list(itertools.islice(self.source, self.batch_size - len(batch)))
            if len(more) < self.batch_size - len(batch):
                self.source = None
            batch += more
        return batch

    def give_back(self, batch: list[Any]) -> None:
        """Put a batch taken but not started back at the head of the queue."""
        self.queue.extendleft(reversed(batch))
        self.queued += sum(self.weight(item) for item in batch)

    def has_work(self) -> bool:
        return bool(self.queue) or self.source is not None


class Scheduler:
    """Runs `stages` (in pipeline order) until every item has been filed, `stop_when()` says to stop,
    or `cancel()`.

    `tick(task_runs)` is called with the task runs submitted so far; `queued(stage, count)` each time
    items are queued for a stage, with how many they stand for."""

    def __init__(
        self,
        stages: list[Stage],
        *,
        tick: Callable[[int], None],
        queued: Callable[[str, int], None] = lambda stage, count: None,
        stop_when: Callable[[], bool] = lambda: False,
        admit: Callable[[list[Stage], Stage, list[Any]], Admission] = lambda stages, stage, batch: "start",
        tick_s: float = 1.0,
    ) -> None:
        self.stages = stages
        self.by_name = {stage.name: stage for stage in stages}
        for stage in stages:
            targets = [stage.to] if isinstance(stage.to, str) else list((stage.to or {}).values())
            for target in targets:
                if target not in self.by_name:
                    raise ValueError(f"step {stage.name} hands its outputs to {target}, which is not a step")
        self.tick, self.tick_s, self.queued, self.stop_when = tick, tick_s, queued, stop_when
        self.admit = admit
        self.cancelled = False
        self.closed = False
        """No new task run is started (`admit` refused one); those in flight finish."""
        self.task_runs = 0
        self._done: queue.Queue[tuple[Stage, list[Any], PrefectFuture]] = queue.Queue()
        self._futures: set[PrefectFuture] = set()

    def feed(self, stage: str, items: Iterable[Any]) -> None:
        """Queue items for a stage."""
        self.queued(stage, self.by_name[stage].put(items))

    def deliver(self, stage: str, items: list[Any]) -> None:
        """Hand on what a stage produced, to where its `to` says."""
        to = self.by_name[stage].to
        if not items or to is None:
            return
        if isinstance(to, str):
            self.feed(to, items)
            return
        routed: dict[str, list[Any]] = {}
        for item in items:
            routed.setdefault(to[type(item)], []).append(item)
        for target, some in routed.items():
            self.feed(target, some)

    def run(self) -> None:
        while True:
            self._fill()
            idle = not any(stage.in_flight for stage in self.stages)
            if idle and (self.cancelled or self.closed or not any(stage.has_work() for stage in self.stages)):
                break
            try:
                stage, batch, future = self._done.get(timeout=self.tick_s)
            except queue.Empty:
                self.tick(self.task_runs)
                continue
            done = sum(stage.weight(item) for item in batch)
            stage.in_flight -= done
            stage.finished += done
            self._futures.discard(future)
            if not _was_cancelled(future):
                self._handle(stage, batch, future)
            self.tick(self.task_runs)

    def cancel(self) -> int:
        """Submit nothing more and cancel the task runs that have not started; how many were."""
        self.cancelled = True
        dropped = 0
        for future in list(self._futures):
            wrapped = getattr(future, "wrapped_future", None)  # a thread's or a Dask worker's future
            if wrapped is not None and not wrapped.done():
                wrapped.cancel()
                dropped += bool(wrapped.cancelled())
        self.task_runs -= dropped
        return dropped

    def _handle(self, stage: Stage, batch: list[Any], future: Any) -> None:
        self.deliver(stage.name, stage.handle(batch, future))
        if not self.cancelled and self.stop_when():
            self.cancel()

    def _fill(self) -> None:
        if self.cancelled:
            return
        downstream: Stage | None = None
        for stage in reversed(self.stages):
            while stage.in_flight < stage.limit and stage.has_work():
                if downstream is not None and downstream.waiting() >= downstream.limit:
                    break
                if self.closed and stage.run is None:
                    break
                batch = stage.take()
                if not batch:
                    break
                admission = "start" if stage.run is not None else self.admit(self.stages, stage, batch)
                if admission != "start":
                    stage.give_back(batch)
                    self.closed = admission == "stop"
                    break
                self._submit(stage, batch)
            downstream = stage

    def _submit(self, stage: Stage, batch: list[Any]) -> None:
        if stage.run is not None:  # in the flow itself: done at once
            done: Future[Any] = Future()
            done.set_result(stage.run(batch))
            self._handle(stage, batch, done)
            return
        assert stage.submit is not None
        future = stage.submit(batch)
        stage.in_flight += sum(stage.weight(item) for item in batch)
        self.task_runs += 1
        self._futures.add(future)
        future.add_done_callback(lambda f: self._done.put((stage, batch, f)))


def _was_cancelled(future: PrefectFuture) -> bool:
    wrapped = getattr(future, "wrapped_future", None)
    return wrapped is not None and wrapped.cancelled()
