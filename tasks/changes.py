"""What changed between two runs of a series: a scheduled regeneration reports it.

A series is a name a run carries in its configuration (`CorpusConfig.series`; a scheduled deployment
sets its own name). `previous_in_series` finds the series' last completed run before a given one;
`compare_runs` lists the tools added, removed and changed (any field of the tool record: a seed whose
description changed gives another tool) and counts tools and dialogues on both sides.
"""

from __future__ import annotations

import hashlib
import json

from schemas.manifest import RunChanges
from schemas.tool import Tool
from storage.run_store import RunStore


def previous_in_series(store: RunStore, series: str, run_id: str) -> str | None:
    """The last completed run of `series` before `run_id` in `store`, if any."""
    for earlier in reversed([r for r in store.list_runs() if r < run_id]):
        try:
            manifest = store.read_manifest(earlier)
        except (OSError, ValueError):  # a folder without a readable manifest is no run of the series
            continue
        if manifest.status == "completed" and manifest.config.get("series") == series:
            return earlier
    return None


def compare_runs(store: RunStore, series: str, previous: str | None, run_id: str) -> RunChanges:
    """The changes from `previous` (None: the series' first run) to `run_id`."""
    now = _tool_digests(store, run_id)
    changes = RunChanges(
        series=series,
        previous_run_id=previous,
        tools_after=len(now),
        dialogs_after=_rows(store, run_id, "dialogs"),
    )
    if previous is None:
        return changes
    then = _tool_digests(store, previous)
    changes.tools_before, changes.dialogs_before = len(then), _rows(store, previous, "dialogs")
    changes.added = sorted(now.keys() - then.keys())
    changes.removed = sorted(then.keys() - now.keys())
    changes.changed = sorted(name for name in now.keys() & then.keys() if now[name] != then[name])
    return changes


def _tool_digests(store: RunStore, run_id: str) -> dict[str, str]:
    """Each tool's name and the sha256 of its record."""
    if not store.has_artifact(run_id, "tools"):
        return {}
    digests = {}
    for tool in store.iter_records(run_id, "tools", Tool):
        record = json.dumps(tool.model_dump(mode="json"), sort_keys=True)
        digests[tool.name] = hashlib.sha256(record.encode()).hexdigest()
    return digests


def _rows(store: RunStore, run_id: str, name: str) -> int:
    """Rows in an artifact's parts (what its files hold, whatever the manifest said last)."""
    return len(store.read_column(run_id, name, "dialog_id")) if store.has_artifact(run_id, name) else 0
