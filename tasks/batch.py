"""Work in batches: one Prefect task run for several items, each item's outcome kept apart.

Prefect's bookkeeping costs about 70 ms of CPU per task run (the flow's process and Prefect's server
together), more than the factory's own work per tool; so a task run takes a batch (several seeds,
several tools, one tool's instructions) and works its items at the same time, a thread each: the
batch takes as long as its slowest item, not as long as all of them in a row. The unit of retry
stays the LLM call: the gateway retries a call on transient errors with backoff, and an item whose
call fails for good becomes a rejection (`llm_error`), an item whose code fails becomes a
`task_failed` rejection, while the rest of the batch goes on. Prefect itself does not retry a batch.
A model stopped by its circuit breaker (`ModelUnavailable`) ends the batch: its remaining items are
unfinished, and the run stops.

Each such step is declared once as a `BatchStep` (its name, an item's id, and how its record of a
rejected item is made); `BatchStep.run` works a batch with that failure handling, and a batch whose
task run died is filed by the same code (`BatchStep.died`).

Nothing of a batch is cached by Prefect: the LLM cache already holds every answer, so a re-run or a
resumed run redoes an item without paying for it, and an item rejected because a call failed is
tried afresh next time.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from prefect import task

from agents.llm.errors import LLMCallError, ModelUnavailable
from agents.llm.redact import redact
from agents.llm.usage import UsageLedger, recording
from schemas.manifest import UsageRow
from schemas.rejection import FailureRule, Rejection, Step

log = logging.getLogger(__name__)
In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class Batch(Generic[In, Out]):
    """The outcomes of a batch: (item, outcome) for each item that finished, in the batch's order;
    `stopped` when a model stopped (the items without an outcome are unfinished)."""

    results: list[tuple[In, Out]] = field(default_factory=list)
    stopped: ModelUnavailable | None = None
    usage: list[UsageRow] = field(default_factory=list)
    """The model calls the batch made (the run adds them to its ledger)."""
    usage_by_item: dict[str, list[UsageRow]] = field(default_factory=dict)
    """`usage` item by item, by item id (what a forecast projects from: `tasks.forecast`)."""

    @property
    def outcomes(self) -> list[Out]:
        return [outcome for _, outcome in self.results]


def failure(step: Step, item_id: str, exc: BaseException) -> Rejection:
    """The rejection of an item whose work raised at `step`: `llm_error` when a model call failed for
    good, `task_failed` when the code (or the task run) did; the reason redacted and bounded. The
    one place an exception becomes a rejection."""
    rule: FailureRule = "llm_error" if isinstance(exc, LLMCallError) else "task_failed"
    reason = redact(f"{type(exc).__name__}: {exc}")[:1000]
    return Rejection(item_id=item_id, step=step, rule=rule, reason=reason)


@dataclass(frozen=True)
class BatchStep(Generic[In, Out]):
    """A step whose items are worked in batches, as data: its name, an item's id, and the outcome of
    an item that leaves it without an output (`rejected(item, rejection)`: the step's own record,
    such as a `RejectedTool` or a rejected `Dialog`). `run` works a batch; `died` gives what `run`
    would have given for a batch whose task run itself failed."""

    name: Step
    item_id: Callable[[In], str]
    rejected: Callable[[In, Rejection], Out]

    def failed(self, item: In, exc: BaseException) -> Out:
        """The outcome of an item whose work raised `exc`."""
        return self.rejected(item, failure(self.name, self.item_id(item), exc))

    def run(self, items: Sequence[In], work: Callable[[In], Out]) -> Batch[In, Out]:
        """`work(item)` for every item at once (a thread each); an item that raises gets its
        rejection (`failed`) instead, except for `ModelUnavailable`, which leaves the item
        unfinished and the batch `stopped`."""

        def one(item: In) -> tuple[Out | ModelUnavailable, list[UsageRow]]:
            with recording() as ledger:  # the item's own calls (and those of threads it starts)
                try:
                    return work(item), ledger.rows()
                except ModelUnavailable as exc:
                    return exc, ledger.rows()
                except Exception as exc:
                    if not isinstance(exc, LLMCallError):
                        log.exception("step %s failed on %s", self.name, self.item_id(item))
                    return self.failed(item, exc), ledger.rows()

        if len(items) == 1:
            worked = [one(items[0])]
        else:
            with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="batch") as pool:
                runs = [pool.submit(contextvars.copy_context().run, one, item) for item in items]
                worked = [run.result() for run in runs]
        total = UsageLedger()
        batch: Batch[In, Out] = Batch()
        for item, (_, rows) in zip(items, worked, strict=True):
            total.include(rows)
            batch.usage_by_item[self.item_id(item)] = rows
        batch.usage = total.rows()
        for item, (outcome, _) in zip(items, worked, strict=True):
            if isinstance(outcome, ModelUnavailable):
                batch.stopped = batch.stopped or outcome
            else:
                batch.results.append((item, outcome))
        return batch

    def died(self, items: Sequence[In], exc: BaseException) -> Batch[In, Out]:
        """The outcomes of a batch whose task run raised `exc` (the flow files them as it files any
        batch's): each item's rejection, as `run` makes it; a model that stopped stops the batch."""
        if isinstance(exc, ModelUnavailable):
            return Batch(stopped=exc)
        return Batch(results=[(item, self.failed(item, exc)) for item in items])


def batch_task(name: str, run_name: str) -> Any:
    """The Prefect task policy of every LLM step: a batch per task run, not retried, not persisted."""
    return task(name=name, task_run_name=run_name, retries=0, persist_result=False)
