"""Records of how fast a run called its models."""

from __future__ import annotations

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
