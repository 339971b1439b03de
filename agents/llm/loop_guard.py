"""A generation caught in a loop, stopped early: what a small model writes once it repeats itself.

A small model that starts repeating a short piece (`1.1.1.1`, a date's `.00.00.00`, one line over and
over) stays in the loop until its token limit: hundreds of tokens nobody keeps. The in-process
providers (`local/`, `hf/`) stop such a generation and report it as cut, with what they saw, so that
the gateway asks again with another seed (an evaluation reads what was written before the loop).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LOOP_WINDOW = 48
"""A generation whose last `LOOP_WINDOW` tokens repeat with a period of at most `LOOP_PERIOD` tokens
is stopped: no sound answer of the factory's repeats itself that long, and a small model caught in
such a loop stays there until the token limit."""
LOOP_PERIOD = 16


class LoopGuard:
    """True once a generation's last `window` tokens repeat with a period of at most `max_period`
    tokens; `period` is the period found (None: no loop). Called once per generated token with every
    token so far, prompt included (llama-cpp-python's stopping criteria are called so), it looks only
    at what this generation wrote."""

    def __init__(self, window: int = LOOP_WINDOW, max_period: int = LOOP_PERIOD) -> None:
        self.window, self.max_period = window, max_period
        self.generated = 0
        self.period: int | None = None

    def __call__(self, input_ids: Sequence[int], logits: Any = None) -> bool:
        if self.period is not None:
            return True
        self.generated += 1
        span = self.window + self.max_period
        if self.generated <= span or len(input_ids) < span:
            return False
        tail = [int(token) for token in input_ids[-span:]]
        recent = tail[-self.window :]
        for period in range(1, self.max_period + 1):
            if recent == tail[-self.window - period : -period]:
                self.period = period
                return True
        return False

    def reason(self) -> str:
        """What was seen, for the call's error: empty while no loop was found."""
        if self.period is None:
            return ""
        return f"caught in a loop (its last {self.window} tokens repeat every {self.period})"
