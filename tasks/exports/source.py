"""What an exporter reads: a run's accepted dialogues, one split at a time, and its tools.

The dialogues are streamed part by part (a run of any size exports in bounded memory) in the order
of the run's parts; a dialogue is on the side of the split that holds every tool it was offered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from schemas.dialog import Dialog, calls
from schemas.export import Split, SplitName
from schemas.manifest import Manifest
from schemas.tool import Tool
from storage.run_store import RunStore

DIALOGS = "dialogs"


@dataclass
class ExportSource:
    """One run of a store, split into train and eval."""

    store: RunStore
    run_id: str
    split: Split
    counts: dict[str, int] = field(default_factory=dict)
    """Dialogues read so far per side (`train`, `eval`, `straddling`), filled as `dialogs` is read."""

    @cached_property
    def manifest(self) -> Manifest:
        return self.store.read_manifest(self.run_id)

    @cached_property
    def tools(self) -> dict[str, Tool]:
        """The run's tools by id (small beside the dialogues: one record per API)."""
        if not self.store.has_artifact(self.run_id, "tools"):
            return {}
        return {t.tool_id: t for t in self.store.iter_records(self.run_id, "tools", Tool)}

    def tools_of(self, dialog: Dialog) -> list[Tool]:
        """The records of the tools `dialog` offered, those the run has, in order."""
        return [self.tools[i] for i in dialog.offered_tool_ids if i in self.tools]

    def dialogs(self, split: SplitName) -> Iterator[Dialog]:
        """The accepted dialogues on side `split`, part by part; each dialogue offered tools of both
        sides is counted once under `straddling` (when the train side is read)."""
        if not self.store.has_artifact(self.run_id, DIALOGS):
            return
        for dialog in self.store.iter_records(self.run_id, DIALOGS, Dialog):
            side = self.split.side(dialog.offered_tool_ids)
            if side == split:
                self.counts[split] = self.counts.get(split, 0) + 1
                yield dialog
            elif side is None and split == "train":
                self.counts["straddling"] = self.counts.get("straddling", 0) + 1


def offered_tools(dialog: Dialog) -> list[dict[str, Any]]:
    """The functions offered to the assistant, as OpenAI `tools` (`{"type": "function", "function":
    {"name", "description", "parameters"}}`)."""
    return json.loads(dialog.tools) if dialog.tools else []


def calls_of(dialog: Dialog) -> list[tuple[str, Any]]:
    """Every function call of the dialogue in order, as (name, parsed arguments): what a round trip
    through any format must give back."""
    return [(call.name, call.parsed_arguments()) for call in calls(dialog.messages)]
