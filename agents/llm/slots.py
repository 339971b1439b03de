"""A limit on model calls in flight that serves waiting calls by priority: later stages first.

`PrioritySlots(n)` admits at most `n` holders. A call that finds no free slot waits; a freed slot
goes straight to the waiting call with the lowest priority number (first come, first served among
equals), so the simulation's calls go before the toolset's and a run's first dialogues come early
whatever the length of the seed list. Handing the slot over (instead of waking every waiter to race
for it) keeps a release O(log n).

The count can change while calls hold slots (`resize`, as adaptive limiting does): a larger count
admits waiting calls at once; a smaller one admits none until enough holders have left.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class PrioritySlots:
    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"at least one slot, not {count}")
        self.count = count
        self._in_use = 0
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, int, threading.Event]] = []
        self._order = itertools.count()

    @property
    def in_use(self) -> int:
        return self._in_use

    def acquire(self, priority: int = 0) -> None:
        with self._lock:
            if self._in_use < self.count and not self._waiting:
                self._in_use += 1
                return
            granted = threading.Event()
            heapq.heappush(self._waiting, (priority, next(self._order), granted))
        granted.wait()  # a releasing (or resizing) thread hands a slot over

    def release(self) -> None:
        with self._lock:
            if self._in_use < 1:
                raise RuntimeError("released more slots than were acquired")
            self._in_use -= 1
            self._hand_over()

    def resize(self, count: int) -> None:
        """Admit at most `count` holders from now on."""
        if count < 1:
            raise ValueError(f"at least one slot, not {count}")
        with self._lock:
            self.count = count
            self._hand_over()

    def _hand_over(self) -> None:
        """Give free slots to the first waiters (under the lock)."""
        while self._waiting and self._in_use < self.count:
            _, _, granted = heapq.heappop(self._waiting)
            self._in_use += 1
            granted.set()

    @contextmanager
    def hold(self, priority: int = 0) -> Iterator[None]:
        self.acquire(priority)
        try:
            yield
        finally:
            self.release()
