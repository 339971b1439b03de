"""The usage ledger: calls, cache hits, errors, tokens and cost per stage, role and model.

A gateway records into its own ledger, or into the ledger of the batch under way in this context
(`recording`): a batch carries its usage back with its outcomes, whatever process it ran in, and the
run adds it up (`include`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from schemas.manifest import LLMUsage, UsageRow

_COUNTED = ("calls", "cache_hits", "errors", "prompt_tokens", "completion_tokens", "cost_usd", "seconds")
_current: ContextVar[UsageLedger | None] = ContextVar("toolforge_usage_ledger", default=None)


class UsageLedger:
    """Thread-safe counters; `summary()` gives the `llm` block of the run manifest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str, str], UsageRow] = {}

    def _row(self, stage: str, role: str, model: str) -> UsageRow:
        key = (stage, role, model)
        if key not in self._rows:
            self._rows[key] = UsageRow(stage=stage, role=role, model=model)
        return self._rows[key]

    def include(self, rows: list[UsageRow]) -> None:
        """Add usage recorded elsewhere (a resumed run's earlier part), row by row."""
        with self._lock:
            for row in rows:
                mine = self._row(row.stage, row.role, row.model)
                for field in _COUNTED:
                    setattr(mine, field, getattr(mine, field) + getattr(row, field))

    def record_call(
        self,
        stage: str,
        role: str,
        model: str,
        *,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        seconds: float = 0.0,
    ) -> None:
        with self._lock:
            row = self._row(stage, role, model)
            row.calls += 1
            row.prompt_tokens += prompt_tokens
            row.completion_tokens += completion_tokens
            row.cost_usd += cost_usd
            row.seconds += seconds

    def record_cache_hit(self, stage: str, role: str, model: str) -> None:
        with self._lock:
            self._row(stage, role, model).cache_hits += 1

    def record_error(self, stage: str, role: str, model: str) -> None:
        with self._lock:
            self._row(stage, role, model).errors += 1

    def rows(self) -> list[UsageRow]:
        with self._lock:
            return [r.model_copy() for r in self._rows.values()]

    def summary(self, stage: str | None = None) -> LLMUsage:
        """Totals and rows, for one stage or all of them."""
        with self._lock:
            rows = [r.model_copy() for r in self._rows.values() if stage is None or r.stage == stage]
        return LLMUsage.from_rows(sorted(rows, key=lambda r: (r.stage, r.role, r.model)))


def current_ledger(default: UsageLedger) -> UsageLedger:
    """The ledger of the batch under way in this context, else `default`."""
    return _current.get() or default


@contextmanager
def recording() -> Iterator[UsageLedger]:
    """Record the model calls made in this context (and contexts copied from it) in a new ledger."""
    ledger = UsageLedger()
    token = _current.set(ledger)
    try:
        yield ledger
    finally:
        _current.reset(token)
