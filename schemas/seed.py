"""Seed records: one API from a list such as public-apis, before any LLM work."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Seed(BaseModel):
    """One API to expand into a tool. `seed_id` is unique within a run and stable across runs."""

    seed_id: str = Field(description="Slug of the (de-duplicated) name, e.g. 'dog-facts-2'.")
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    category: str = Field(min_length=1)
    auth: str = Field(default="", description="'apiKey', 'OAuth', 'User-Agent', ... or '' when none.")
    https: bool | None = None
    cors: str = Field(default="unknown", description="'yes', 'no' or 'unknown'.")
    link: str = ""
    source: str = Field(description="The file path or URL the seed was read from.")
    line: int | None = Field(default=None, description="1-based line (markdown, CSV) or row (JSON, Parquet).")


class IngestProblem(BaseModel):
    """What the reader noticed in one source row: a skipped row, a renamed duplicate, a tolerated quirk."""

    source: str
    line: int | None
    name: str = ""
    action: Literal["skipped", "renamed", "kept"]
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        label = f" ({self.name})" if self.name else ""
        return f"{where}{label}: {self.action}: {self.reason}"
