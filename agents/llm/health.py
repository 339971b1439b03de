"""A circuit breaker per model: when every recent call to a model failed the same way, stop calling it.

A call counts once, after its own retries. Any answer resets the count; a failure of another kind
starts it again. `failures` in a row of one kind trip the breaker: the gateway then refuses every
further call to that model with `ModelUnavailable` (no retries, no waiting), and the run stops with
that reason instead of rejecting each remaining item after a slow round of retries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from agents.llm.errors import ModelUnavailable


@dataclass
class _Streak:
    kind: str = ""
    count: int = 0


class ModelHealth:
    """Thread-safe failure streaks per model; `tripped(model)` is the error that stopped it, if any."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self._lock = threading.Lock()
        self._streaks: dict[str, _Streak] = {}
        self._tripped: dict[str, ModelUnavailable] = {}

    def tripped(self, model: str) -> ModelUnavailable | None:
        return self._tripped.get(model)

    def succeeded(self, model: str) -> None:
        with self._lock:
            self._streaks.pop(model, None)

    def failed(self, role: str, model: str, kind: str, message: str) -> ModelUnavailable | None:
        """Record a call's final failure; the breaker's error when this one trips it."""
        if self.failures <= 0:
            return None
        with self._lock:
            if model in self._tripped:
                return self._tripped[model]
            streak = self._streaks.setdefault(model, _Streak())
            if streak.kind != kind:
                streak.kind, streak.count = kind, 0
            streak.count += 1
            if streak.count < self.failures:
                return None
            error = ModelUnavailable(
                f"role {role}", model, f"the last {streak.count} calls all failed the same way: {message}"
            )
            self._tripped[model] = error
            return error
