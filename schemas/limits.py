"""Records of how fast a run called its models."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field


class ConcurrencyChange(BaseModel):
    """Adaptive limiting set a model's calls in flight to `limit` (of at most `ceiling`) at `at`."""

    at: datetime
    model: str
    limit: int = Field(ge=1)
    ceiling: int = Field(ge=1)
    worker: str | None = Field(
        default=None,
        description="The Dask worker (its address) whose gateway changed it; None: the flow's process.",
    )


def by_limit(history: Iterable[ConcurrencyChange]) -> dict[str, list[ConcurrencyChange]]:
    """`history` by the limit each change moved: a model's in the flow's process (its name), or in one
    Dask worker's (`model (worker)`, each worker's gateway keeping its own), in order of appearance."""
    limits: dict[str, list[ConcurrencyChange]] = {}
    for change in history:
        name = change.model if change.worker is None else f"{change.model} ({change.worker})"
        limits.setdefault(name, []).append(change)
    return limits
