"""What a step's task run returned, as the flow files it; and the run's stop when a model failed for
good.

A batch's task run returns a `Batch`: an outcome for each item that finished, and the model calls it
made (added to the run's usage ledger). A task run that itself failed returns nothing; its batch is
filed all the same, by `batch_outcome`: what the step's own failure handling makes of it
(`tasks.batch.BatchStep.died`: a rejection for each item). A model stopped by its circuit breaker
(`ModelUnavailable`) stops the run: `BatchOutcomes.stopped` says so, and the scheduler submits nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from agents.llm.errors import ModelUnavailable
from agents.llm.usage import UsageLedger
from schemas.forecast import ItemUsage
from tasks.batch import Batch, BatchStep

T = TypeVar("T")


def batch_outcome(future: Any, items: Sequence[T], step: BatchStep[T, Any]) -> Batch[Any, Any]:
    """The batch a task run returned; when the task run itself failed, `step.died(items, error)`: a
    rejection for each of its items, as `step` makes one (none when a model stopped: the batch is
    `stopped`)."""
    try:
        batch: Batch[Any, Any] = future.result()
        return batch
    except Exception as exc:
        return step.died(items, exc)


class BatchOutcomes:
    """The outcomes of a run's batches, their model calls counted in `usage`; `notes` tells why the run
    stopped, when it did."""

    def __init__(self, usage: UsageLedger, notes: list[str], by_item: bool = False) -> None:
        self.usage, self.notes = usage, notes
        self.stopped: ModelUnavailable | None = None
        self.by_item: list[ItemUsage] | None = [] if by_item else None
        """With `by_item` (a forecast's sample run), each item's model calls, as its batch gave them."""

    def of(self, future: Any, items: Sequence[T], step: BatchStep[T, Any]) -> Batch[Any, Any]:
        """A completed task run's batch (`batch_outcome`), its model calls added to `usage`."""
        batch = batch_outcome(future, items, step)
        self.usage.include(batch.usage)
        if self.by_item is not None:
            self.by_item += [
                ItemUsage(step=step.name, item_id=item_id, usage=rows)
                for item_id, rows in batch.usage_by_item.items()
            ]
        return batch

    def stop_if(self, batch: Batch[Any, Any]) -> None:
        """Stop the run when a batch's model stopped."""
        if batch.stopped is not None:
            self.stop(batch.stopped)

    def stop(self, error: ModelUnavailable) -> None:
        """Stop the run: a model failed for good (the first such error is the one told)."""
        if self.stopped is None:
            self.stopped = error
            self.notes.append(f"stopped: {error}")
