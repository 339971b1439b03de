"""One progress line per stage on the terminal (stderr), rewritten in place when it is a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from agents.llm.gateway import LLMGateway


class StageProgress:
    """`toolset  12/12 · 10 ok · 2 rejected · 24 LLM calls · 3 cached · 41.2s`."""

    def __init__(self, stage: str, total: int, unit: str, gateway: LLMGateway, stream: TextIO | None = None):
        self.stage, self.total, self.unit, self.gateway = stage, total, unit, gateway
        self.stream = stream or sys.stderr
        self.ok = self.rejected = 0
        self.started = time.monotonic()
        self._live = self.stream.isatty()
        self._draw()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        usage = self.gateway.ledger.summary(self.stage)
        return (
            f"{self.stage:<10} {self.ok + self.rejected}/{self.total} {self.unit} · {self.ok} ok · "
            f"{self.rejected} rejected · {usage.calls} LLM calls · {usage.cache_hits} cached · "
            f"{self.seconds:.1f}s"
        )

    def _draw(self) -> None:
        if self._live:
            self.stream.write("\r\033[K" + self.line())
            self.stream.flush()

    def advance(self, ok: bool) -> None:
        if ok:
            self.ok += 1
        else:
            self.rejected += 1
        self._draw()

    def finish(self) -> None:
        self.stream.write(("\r\033[K" if self._live else "") + self.line() + "\n")
        self.stream.flush()
