"""The settings of one corpus run: what to read, which models, what to build and where to write."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agents.llm.config import LLMConfig
from tasks.toolset import ToolsetSettings


class SeedSelection(BaseModel):
    """Which seed list to read and which of its APIs to use."""

    source: str | None = Field(default=None, description="Path or http(s) URL; the built-in list when empty.")
    format: str | None = Field(
        default=None, description="markdown, json, csv or parquet; from the extension."
    )
    limit: int | None = Field(default=None, ge=1)
    categories: list[str] = Field(default_factory=list)
    sample: int | None = Field(default=None, ge=1, description="Stratified sample size (by category).")
    sample_seed: int = 0


class CorpusConfig(BaseModel):
    """Everything a corpus run depends on. Contains no secrets: keys come from the environment."""

    seeds: SeedSelection = Field(default_factory=SeedSelection)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    toolset: ToolsetSettings = Field(default_factory=ToolsetSettings)
    out: str = Field(default="out", description="Local path or fsspec URL of the run store.")

    def public_dump(self) -> dict:
        """The configuration as written to the manifest (credentials stripped)."""
        data = self.model_dump()
        data["llm"] = self.llm.public_dump()
        return data
