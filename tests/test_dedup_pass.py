"""The dedup of requests at the end of a run (`flows.request_dedup`): the same dialogue
kept whatever order the dialogues were filed in, the parts written again, and a pass that died
halfway finished by the resumed run."""

from __future__ import annotations

from flows.filing import CorpusRun
from flows.request_dedup import drop_duplicate_requests
from schemas.dialog import Dialog
from schemas.rejection import Rejection
from storage.run_store import RunStore
from tasks.checks import Checked
from tests.support.records import make_dialog
from tests.support.run_units import corpus_run

DIALOGS = [
    make_dialog("b-2", "Find museums in Lisbon for the weekend trip"),
    make_dialog("a-10", "find museums in Lisbon for the weekend trip!"),
    make_dialog("a-2", "What are the tide times in Porto tomorrow"),
]


def file_in_parts(run: CorpusRun, dialogs: list[Dialog]) -> None:
    assert run.parts.dialogs is not None
    for dialog in dialogs:  # a part each, in the order they were filed
        run.parts.dialogs.add([dialog])
        run.parts.dialogs.flush()


def dedup(store: RunStore, run: CorpusRun) -> int:
    threshold = run.config.verification.dedup_threshold
    return drop_duplicate_requests(store, run.parts, run.ledger, run.board, threshold)


def ids(store: RunStore, run_id: str, name: str) -> list[str]:
    return sorted(str(i) for i in store.read_column(run_id, name, "dialog_id"))


def test_the_first_by_id_is_kept_whatever_the_filing_order(tmp_path, llm_config):
    for number, order in enumerate((DIALOGS, DIALOGS[::-1])):
        run_id = f"run-{number}"
        store, run = corpus_run(tmp_path, llm_config, run_id)
        file_in_parts(run, order)
        assert dedup(store, run) == 1
        assert ids(store, run_id, "dialogs") == ["a-10", "a-2"]  # natural order: a-2 < a-10 < b-2
        (moved,) = store.read_records(run_id, "rejected_dialogs", Dialog)
        assert (moved.dialog_id, moved.rejection_rule) == ("b-2", "duplicate_request")
        assert "a-10" in moved.rejection_reason and moved.verdicts[-1].layer == "dedup"
        (rejection,) = store.read_records(run_id, "rejections", Rejection)
        assert (rejection.item_id, rejection.step) == ("b-2", "dedup")
        assert (
            run.parts.dialogs is not None and run.parts.dialogs.info.rows == 2
        )  # the manifest's count follows
        stats = run.ledger.dedup_stats
        assert stats is not None and (stats.dialogs, stats.passed) == (3, 2)


def test_a_pass_that_died_after_moving_a_dialogue_is_finished_on_resume(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config, "crashed")
    file_in_parts(run, DIALOGS)
    assert run.parts.rejected_dialogs is not None
    # the pass wrote the moved dialogue and its rejection, then died before writing its part again
    run.parts.rejected_dialogs.add([DIALOGS[0].rejected("dedup", "duplicate_request", "of a-10")])
    run.ledger.reject("dedup", "b-2", "duplicate_request", "of a-10")
    run.parts.flush_verification()
    run.ledger.write_manifest("running", task_runs=0)

    store, resumed = corpus_run(tmp_path, llm_config, "crashed", resume=True)
    assert dedup(store, resumed) == 0  # nothing new to move
    assert ids(store, "crashed", "dialogs") == ["a-10", "a-2"]
    assert ids(store, "crashed", "rejected_dialogs") == ["b-2"]  # once
    assert [r.item_id for r in store.read_records("crashed", "rejections", Rejection)] == ["b-2"]


def test_a_moved_dialogue_counts_as_rejected_for_its_tool_and_on_the_progress_line(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config, "counted")
    run.board.expect("simulation", len(DIALOGS))
    run.filing.file_dialogs(Checked(accepted=list(DIALOGS)))
    assert dedup(store, run) == 1
    assert run.ledger.tool_counts("things") == {"accepted": 2, "rejected": 1}
    progress = run.board.stages["simulation"]
    assert (progress.ok, progress.rejected) == (2, 1)
    assert run.ledger.rejected_by_step == {"dedup": 1}
