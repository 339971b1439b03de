"""The dedup of a run's seeds before the toolset: a seed that lists an API a seed before it lists
already is not built (`tasks.dedup.duplicate_seeds`); it is filed as a rejected tool of step `dedup`
(rule `duplicate_tool`, naming the seed kept) and as a rejection."""

from __future__ import annotations

from flows.ledger import RunLedger
from flows.progress import ProgressBoard
from schemas.seed import Seed
from schemas.tool import RejectedTool
from storage.run_store import PartWriter, RunStore
from tasks.dedup import duplicate_seeds


def drop_duplicate_seeds(
    seeds: list[Seed], rejected_tools: PartWriter[RejectedTool], ledger: RunLedger, board: ProgressBoard
) -> list[Seed]:
    """The seeds the toolset builds: all but the duplicates, which are filed (see the module's
    docstring) and counted done on the toolset's progress line."""
    duplicates = {d.item_id: d for d in duplicate_seeds(seeds)}
    for seed in seeds:
        if seed.seed_id in duplicates:
            reason = duplicates[seed.seed_id].reason
            rejected_tools.add(
                [
                    RejectedTool(
                        tool_id=seed.seed_id,
                        name=seed.name,
                        category=seed.category,
                        step="dedup",
                        rule="duplicate_tool",
                        reason=reason,
                        duplicate_of=duplicates[seed.seed_id].kept_id,
                    )
                ]
            )
            ledger.reject("dedup", seed.seed_id, "duplicate_tool", reason)
            board.advance("toolset", False)
    return [seed for seed in seeds if seed.seed_id not in duplicates]


def without_duplicates(seeds: list[Seed]) -> list[Seed]:
    """The seeds the toolset would build: all but the duplicates (filed by `drop_duplicate_seeds`)."""
    duplicates = {d.item_id for d in duplicate_seeds(seeds)}
    return [seed for seed in seeds if seed.seed_id not in duplicates]


def duplicate_seed_ids(store: RunStore, run_id: str) -> set[str]:
    """The seeds of a run that its seed dedup dropped."""
    rejected = store.read_records(run_id, "rejected_tools", RejectedTool)
    return {r.tool_id for r in rejected if r.step == "dedup"}
