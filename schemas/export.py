"""Export records: the train/eval split of a run's tools, and what an export wrote.

`Split` is stored with every export (`split.json`) and described in its dataset card; `ExportSummary`
is the export's own manifest (`export.json`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, Field

ExportFormat = Literal["openai", "hf", "sharegpt", "react", "toolalpaca", "bfcl"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("openai", "hf", "sharegpt", "react", "toolalpaca", "bfcl")
SplitName = Literal["train", "eval"]
SPLITS: tuple[SplitName, ...] = ("train", "eval")
SplitUnit = Literal["tool", "category"]


class Split(BaseModel):
    """Which tools are for training and which are held out for evaluation: whole tools (or whole
    categories), chosen reproducibly from `seed`. A dialogue belongs to a side when every tool it was
    offered is on that side; one offered tools of both sides (`--tools-per-dialog`) is in neither."""

    eval_fraction: float = Field(ge=0.0, le=1.0)
    seed: int
    unit: SplitUnit = "tool"
    train_tools: list[str] = Field(default_factory=list)
    eval_tools: list[str] = Field(default_factory=list)
    eval_categories: list[str] = Field(
        default_factory=list, description="With unit `category`: the categories held out."
    )

    @cached_property
    def _sides(self) -> tuple[frozenset[str], frozenset[str]]:
        """(train, eval) tool ids as sets, made once: `side` is asked for every dialogue."""
        return frozenset(self.train_tools), frozenset(self.eval_tools)

    def side(self, tool_ids: Iterable[str]) -> SplitName | None:
        """The side of a dialogue offered `tool_ids`; None when they are on both sides (or unknown)."""
        train, held_out = self._sides
        ids = set(tool_ids)
        if ids and ids <= held_out:
            return "eval"
        if ids and ids <= train:
            return "train"
        return None


class ExportFile(BaseModel):
    """One file an export wrote: its path relative to the export folder, the split it holds (None
    for a file of both, such as ToolAlpaca's list of tools), rows, sha256 and bytes."""

    path: str
    split: SplitName | None = None
    rows: int
    sha256: str
    bytes: int


class ExportSummary(BaseModel):
    """What one export of a run wrote (`export.json` in the export folder)."""

    run_id: str
    format: ExportFormat
    created_at: datetime
    split: Split
    dialogs: dict[str, int] = Field(
        default_factory=dict, description="Accepted dialogues exported per split (`train`, `eval`)."
    )
    straddling: int = Field(
        default=0, description="Accepted dialogues left out: offered tools of both splits."
    )
    not_in_format: int = Field(
        default=0,
        description="Accepted dialogues the format leaves out: no shape for them in it (BFCL has no "
        "multi-turn category), or a split it does not hold (BFCL: train).",
    )
    files: list[ExportFile] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
