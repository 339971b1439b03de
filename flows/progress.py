"""One progress line per stage on the terminal (stderr), redrawn in place when stderr is a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from agents.llm.gateway import LLMGateway


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

    def line(self) -> str:
        usage = self.gateway.ledger.summary(self.stage)
        return (
            f"{self.stage:<12} {self.ok + self.rejected}/{self.total} {self.unit} · {self.ok} ok · "
            f"{self.rejected} rejected · {usage.calls} LLM calls · {usage.cache_hits} cached · "
            f"{self.seconds:.1f}s"
        )


class ProgressBoard:
    """The stages of a run, one line each; lines are printed once more when the run ends."""

    def __init__(self, gateway: LLMGateway, stream: TextIO | None = None) -> None:
        self.gateway = gateway
        self.stream = stream or sys.stderr
        self.stages: dict[str, StageProgress] = {}
        self.started = time.monotonic()
        self._live = self.stream.isatty()
        self._drawn = 0

    def stage(self, name: str, unit: str) -> StageProgress:
        if name not in self.stages:
            self.stages[name] = StageProgress(name, unit, self.gateway, self.started)
        return self.stages[name]

    def expect(self, name: str, count: int = 1) -> None:
        self.stages[name].total += count
        self.draw()

    def advance(self, name: str, ok: bool) -> None:
        progress = self.stages[name]
        if ok:
            progress.ok += 1
        else:
            progress.rejected += 1
        if progress.ok + progress.rejected >= progress.total:
            progress.finished = time.monotonic()
        self.draw()

    def move_to_rejected(self, name: str) -> None:
        """An item counted as done turned out rejected (a duplicate found once all were done)."""
        progress = self.stages[name]
        progress.ok, progress.rejected = progress.ok - 1, progress.rejected + 1
        self.draw()

    def draw(self) -> None:
        if not self._live:
            return
        up = f"\033[{self._drawn}F" if self._drawn else ""
        lines = [p.line() for p in self.stages.values()]
        self.stream.write(up + "".join(f"\033[K{line}\n" for line in lines))
        self.stream.flush()
        self._drawn = len(lines)

    def close(self) -> None:
        if self._live:
            self.draw()
        else:
            for progress in self.stages.values():
                self.stream.write(progress.line() + "\n")
            self.stream.flush()
