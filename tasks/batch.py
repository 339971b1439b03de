"""Work in batches: one Prefect task run for several items, each item's outcome kept apart.

Prefect's bookkeeping costs about 25 ms of CPU per task run, more than the factory's own work per
tool; so a task run takes a batch (several seeds, several tools, one tool's instructions) and works
through it item by item. The unit of retry stays the LLM call: the gateway retries a call on
transient errors with backoff, and an item whose call fails for good becomes a rejection
(`llm_error`), an item whose code fails becomes a `task_failed` rejection, while the rest of the
batch goes on. Prefect itself does not retry a batch. A model stopped by its circuit breaker
(`ModelUnavailable`) ends the batch: its remaining items are unfinished, and the run stops.

Nothing of a batch is cached by Prefect: the LLM cache already holds every answer, so a re-run or a
resumed run redoes an item without paying for it, and an item rejected because a call failed is
tried afresh next time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from prefect import task

from agents.llm.errors import LLMCallError, ModelUnavailable
from agents.llm.redact import redact

log = logging.getLogger(__name__)
In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class Batch(Generic[Out]):
    """The outcomes of a batch, one per item in order; `stopped` when a model stopped it early (the
    items after the last outcome are unfinished)."""

    results: list[Out] = field(default_factory=list)
    stopped: ModelUnavailable | None = None


def failure_reason(exc: BaseException) -> tuple[str, bool]:
    """(the reason, redacted and bounded, whether an LLM call failed) for an item that raised."""
    return redact(f"{type(exc).__name__}: {exc}")[:1000], isinstance(exc, LLMCallError)


def run_batch(
    items: Sequence[In],
    work: Callable[[In], Out],
    failed: Callable[[In, str, bool], Out],
) -> Batch[Out]:
    """`work(item)` for each item in turn; an item that raises gets `failed(item, reason, llm_failed)`
    instead, except for `ModelUnavailable`, which ends the batch."""
    batch: Batch[Out] = Batch()
    for item in items:
        try:
            batch.results.append(work(item))
        except ModelUnavailable as exc:
            batch.stopped = exc
            return batch
        except Exception as exc:
            reason, llm_failed = failure_reason(exc)
            if not llm_failed:
                log.exception("%s failed on %r", getattr(work, "__name__", "work"), item)
            batch.results.append(failed(item, reason, llm_failed))
    return batch


def batch_task(name: str, run_name: str) -> Any:
    """The Prefect task policy of every LLM step: a batch per task run, not retried, not persisted."""
    return task(name=name, task_run_name=run_name, retries=0, persist_result=False)
