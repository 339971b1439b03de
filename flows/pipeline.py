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
    """`submit(task, *args, tag=...)` then iterate `completed()` to get `(tag, future)` pairs."""

    def __init__(self) -> None:
        self._done: queue.Queue[tuple[Any, PrefectFuture]] = queue.Queue()
        self._pending = 0

    def submit(self, task: Any, *args: Any, tag: Any) -> None:
        future = task.submit(*args)
        self._pending += 1
        future.add_done_callback(lambda f: self._done.put((tag, f)))

    def completed(self) -> Iterator[tuple[Any, PrefectFuture]]:
        """Each submitted task once, as it finishes; tasks submitted meanwhile are included."""
        while self._pending:
            tag, future = self._done.get()
            self._pending -= 1
            yield tag, future
