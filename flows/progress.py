"""One progress line per stage on the terminal (stderr), redrawn in place when stderr is a TTY.

When stderr is not a TTY (a pipe, a file, CI, a Prefect worker's log), lines are only ever appended:
one when a stage starts (its first items queued) and one when it finishes, and a heartbeat line
(`Heartbeat`) whenever `every_s` seconds passed without a line: the stages at work with their
counts, the LLM calls, the cached answers and the time elapsed. The heartbeat comes from a daemon
thread, so it is printed even while one long model call holds every progress update back.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from agents.llm.gateway import LLMGateway

HEARTBEAT_S = 30.0
"""Seconds without a line, at most, before a heartbeat line (`--progress-every`)."""


class Heartbeat:
    """Writes lines to a stream (never a TTY's redrawn board), and from a daemon thread, while
    started, `beat()`'s line whenever `every_s` seconds passed since the last line written."""

    def __init__(self, stream: TextIO, every_s: float, beat: Callable[[], str]) -> None:
        self.stream, self.every_s, self.beat = stream, every_s, beat
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def write(self, line: str) -> None:
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last = time.monotonic()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="toolforge-heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            wait = self._last + self.every_s - time.monotonic()
            if wait > 0:
                self._stopping.wait(wait)
            else:
                self.write(self.beat())


def elapsed(seconds: float) -> str:
    """`41s`, `16m05s`."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


class StageProgress:
    """Counts for one stage: `dialogs  14/20 · 11 ok · 3 rejected · 52 LLM calls · 0 cached · 41.2s`."""

    def __init__(self, stage: str, unit: str, gateway: LLMGateway, started: float) -> None:
        self.stage, self.unit, self.gateway = stage, unit, gateway
        self.total = self.ok = self.rejected = 0
        self.started = started
        self.finished: float | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def done(self) -> int:
        return self.ok + self.rejected

    def line(self) -> str:
        usage = self.gateway.ledger.summary(self.stage)
        return (
            f"{self.stage:<12} {self.done}/{self.total} {self.unit} · {self.ok} ok · "
            f"{self.rejected} rejected · {usage.calls} LLM calls · {usage.cache_hits} cached · "
            f"{self.seconds:.1f}s{self.gateway.concurrency_note() if self.finished is None else ''}"
        )


class ProgressBoard:
    """The stages of a run, one line each, in the order of its steps; lines are printed once more
    when the run ends. Not on a TTY: a line per stage change and the heartbeat, from `begin()` to
    `close()` (see the module's docstring)."""

    def __init__(
        self, gateway: LLMGateway, stream: TextIO | None = None, every_s: float = HEARTBEAT_S
    ) -> None:
        self.gateway = gateway
        self.stream = stream or sys.stderr
        self.stages: dict[str, StageProgress] = {}
        self.started = time.monotonic()
        self._live = self.stream.isatty()
        self._drawn = 0
        self._heartbeat = Heartbeat(self.stream, every_s, self.heartbeat_line)
        self._started: set[str] = set()
        self._finished: set[str] = set()

    def stage(self, name: str, unit: str) -> StageProgress:
        if name not in self.stages:
            self.stages[name] = StageProgress(name, unit, self.gateway, self.started)
        return self.stages[name]

    def begin(self, line: str) -> None:
        """Not on a TTY: print `line` and start the heartbeat."""
        if not self._live:
            self._heartbeat.write(line)
            self._heartbeat.start()

    def expect(self, name: str, count: int = 1) -> None:
        progress = self.stages[name]
        progress.total += count
        if not self._live and name not in self._started:
            self._started.add(name)
            self._heartbeat.write(f"{name} started: {progress.total} {progress.unit} queued")
        self.draw()

    def advance(self, name: str, ok: bool) -> None:
        progress = self.stages[name]
        if ok:
            progress.ok += 1
        else:
            progress.rejected += 1
        if progress.done >= progress.total:
            progress.finished = time.monotonic()
        if not self._live and name not in self._finished and self.complete(name):
            self._finished.add(name)
            self._heartbeat.write(f"{name} finished: {progress.line().split(maxsplit=1)[1]}")
        self.draw()

    def move_to_rejected(self, name: str) -> None:
        """An item counted as done turned out rejected (a duplicate found once all were done)."""
        progress = self.stages[name]
        progress.ok, progress.rejected = progress.ok - 1, progress.rejected + 1
        self.draw()

    def complete(self, name: str) -> bool:
        """Every item of the stage done, and every stage before it complete (the first: once it had
        work). Checked at the stage's own items: a stage before it may yet queue more."""
        names = list(self.stages)
        position = names.index(name)
        progress = self.stages[name]
        if progress.done < progress.total:
            return False
        return self.complete(names[position - 1]) if position else progress.total > 0

    def draw(self) -> None:
        if not self._live:
            return
        up = f"\033[{self._drawn}F" if self._drawn else ""
        lines = [p.line() for p in self.stages.values()]
        self.stream.write(up + "".join(f"\033[K{line}\n" for line in lines))
        self.stream.flush()
        self._drawn = len(lines)

    def heartbeat_line(self) -> str:
        """`working: simulation 14/20 dialogs · 52 LLM calls · 3 cached · 2m05s elapsed`."""
        usage = self.gateway.ledger.summary()
        at_work = [
            f"{name} {p.done}/{p.total} {p.unit}"
            for name, p in self.stages.items()
            if name in self._started and not self.complete(name)
        ]
        if at_work:
            what = "working: " + ", ".join(at_work)
        else:
            what = "finishing: statistics and report" if self._started else "starting"
        return (
            f"{what} · {usage.calls} LLM calls · {usage.cache_hits} cached"
            f"{self.gateway.concurrency_note()} · {elapsed(time.monotonic() - self.started)} elapsed"
        )

    def close(self) -> None:
        """Stop the heartbeat; the stage lines once more."""
        self._heartbeat.stop()
        if self._live:
            self.draw()
        else:
            for progress in self.stages.values():
                self._heartbeat.write(progress.line())


@contextmanager
def phase(
    what: str, every_s: float = HEARTBEAT_S, announce: bool = True, stream: TextIO | None = None
) -> Iterator[None]:
    """A part of a command outside its flow (loading the models, recording the run): not on a TTY,
    `what` at once (with `announce`), then `what · 45s` whenever `every_s` seconds passed without a
    line."""
    stream = stream or sys.stderr
    if stream.isatty():
        yield
        return
    started = time.monotonic()
    heartbeat = Heartbeat(stream, every_s, lambda: f"{what} · {elapsed(time.monotonic() - started)}")
    if announce:
        heartbeat.write(what)
    heartbeat.start()
    try:
        yield
    finally:
        heartbeat.stop()
