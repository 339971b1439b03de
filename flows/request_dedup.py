"""The corpus-wide dedup of requests, once every dialogue is filed: of accepted dialogues whose first
requests are near-duplicates (`tasks.dedup.duplicate_requests`), the first by id stays, the others
move to `rejected_dialogs` (rule `duplicate_request`, step `dedup`, naming the one kept), and the
parts that held them are written again.

Deterministic whatever order the dialogues were filed in; a resumed run whose pass died halfway
finishes it: a dialogue already in `rejected_dialogs` leaves `dialogs` and is not moved twice.
"""

from __future__ import annotations

import posixpath

from flows.ledger import RunLedger
from flows.parts import RunParts
from flows.progress import ProgressBoard
from schemas.dialog import Dialog
from schemas.verdict import CheckStats, Verdict
from storage.run_store import RunStore
from tasks.dedup import duplicate_requests


def drop_duplicate_requests(
    store: RunStore, parts: RunParts, ledger: RunLedger, board: ProgressBoard, threshold: float
) -> int:
    """Move the duplicates of the run's dialogues (see the module's docstring), counted in the ledger
    (and its `dedup_stats`: the pass as a check) and on the simulation's progress line; how many moved."""
    dialogs, rejected_dialogs = parts.dialogs, parts.rejected_dialogs
    if dialogs is None or rejected_dialogs is None:
        return 0
    run_id = dialogs.writer.run_id
    parts.flush_verification()
    moved = {str(i) for i in store.read_column(run_id, "rejected_dialogs", "dialog_id")}
    ids = [str(i) for i in store.read_column(run_id, "dialogs", "dialog_id")]
    texts = [str(t) for t in store.read_column(run_id, "dialogs", "instruction")]
    pairs = [(i, t) for i, t in zip(ids, texts, strict=True) if i not in moved]
    duplicates = {d.item_id: d.reason for d in duplicate_requests(pairs, threshold=threshold)}
    ledger.dedup_stats = CheckStats(
        check="duplicate_request",
        layer="dedup",
        dialogs=len(pairs),
        passed=len(pairs) - len(duplicates),
        pass_rate=1 - len(duplicates) / len(pairs) if pairs else 1.0,
    )
    for path in store.part_paths(run_id, "dialogs"):
        records = store.read_part(path, Dialog)
        leaving = {r.dialog_id for r in records if r.dialog_id in duplicates or r.dialog_id in moved}
        if not leaving:
            continue
        rejected = []
        for dialog in (r for r in records if r.dialog_id in duplicates):
            verdict = Verdict(
                check="duplicate_request", layer="dedup", passed=False, reason=duplicates[dialog.dialog_id]
            )
            rejected.append(dialog.with_verdicts([verdict]))
            ledger.tool_counts(dialog.tool_id).update({"accepted": -1, "rejected": 1})
            board.move_to_rejected("simulation")
        rejected_dialogs.add(rejected)
        for dialog in rejected:
            ledger.reject("dedup", dialog.dialog_id, "duplicate_request", dialog.rejection_reason)
        parts.flush_verification()  # the moved records are written before their part is rewritten
        dialogs.replace(
            f"dialogs/{posixpath.basename(path)}", [r for r in records if r.dialog_id not in leaving]
        )
    return len(duplicates)
