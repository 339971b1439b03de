"""Completion-driven fan-out: submit Prefect tasks, then handle each as it finishes, in any order.

Stages are chained per item rather than separated by barriers: a tool's instructions start as soon
as that tool is built, and its instances as soon as its instructions exist, so the LLM stays busy.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

from prefect.futures import PrefectFuture


class Pipeline:
    """`submit(task, *args, tag=...)` then iterate `completed()` to get `(tag, future)` pairs;
    `cancel()` drops the tasks that have not started, and refuses new ones."""

    def __init__(self) -> None:
        self._done: queue.Queue[tuple[Any, PrefectFuture]] = queue.Queue()
        self._pending = 0
        self._waiting: set[PrefectFuture] = set()  # submitted, not yet handed out by completed()
        self.cancelled = False

    def submit(self, task: Any, *args: Any, tag: Any) -> None:
        if self.cancelled:
            return
        future = task.submit(*args)
        self._pending += 1
        self._waiting.add(future)
        future.add_done_callback(lambda f: self._done.put((tag, f)))

    def cancel(self) -> int:
        """Cancel every submitted task that has not started (those running finish); how many were."""
        self.cancelled = True
        dropped = 0
        for future in list(self._waiting):
            wrapped = getattr(future, "wrapped_future", None)
            if wrapped is not None and wrapped.cancel():
                dropped += 1
        return dropped

    def completed(self) -> Iterator[tuple[Any, PrefectFuture]]:
        """Each submitted task once, as it finishes (a cancelled one is left out); tasks submitted
        meanwhile are included."""
        while self._pending:
            tag, future = self._done.get()
            self._pending -= 1
            self._waiting.discard(future)
            if _was_cancelled(future):
                continue
            yield tag, future


def _was_cancelled(future: PrefectFuture) -> bool:
    wrapped = getattr(future, "wrapped_future", None)
    return wrapped is not None and wrapped.cancelled()
