"""The dedup of requests at the end of a run (`CorpusRun.drop_duplicate_requests`): the same dialogue
kept whatever order the dialogues were filed in, the parts written again, and a pass that died
halfway finished by the resumed run."""

from __future__ import annotations

import io
from pathlib import Path

from agents.llm.gateway import LLMGateway
from flows.config import CorpusConfig, SeedSelection
from flows.filing import CorpusRun
from flows.progress import ProgressBoard
from schemas.dialog import Dialog
from schemas.rejection import Rejection
from storage.run_store import RunStore
from tests.test_diversity import make_dialog

DIALOGS = [
    make_dialog("b-2", "Find museums in Lisbon for the weekend trip"),
    make_dialog("a-10", "find museums in Lisbon for the weekend trip!"),
    make_dialog("a-2", "What are the tide times in Porto tomorrow"),
]


def corpus_run(tmp_path: Path, llm_config, run_id: str, resume: bool = False) -> tuple[RunStore, CorpusRun]:
    config = CorpusConfig(seeds=SeedSelection(source="unused.md"), llm=llm_config, out=str(tmp_path / "out"))
    store = RunStore(config.out)
    writer = store.resume_run(run_id) if resume else store.start_run(run_id)
    gateway = LLMGateway(llm_config)
    return store, CorpusRun(config, writer, gateway, ProgressBoard(gateway, stream=io.StringIO()))


def file_in_parts(run: CorpusRun, dialogs: list[Dialog]) -> None:
    assert run.dialogs is not None
    for dialog in dialogs:  # a part each, in the order they were filed
        run.dialogs.add([dialog])
        run.dialogs.flush()


def ids(store: RunStore, run_id: str, name: str) -> list[str]:
    return sorted(str(i) for i in store.read_column(run_id, name, "dialog_id"))


def test_the_first_by_id_is_kept_whatever_the_filing_order(tmp_path, llm_config):
    for number, order in enumerate((DIALOGS, DIALOGS[::-1])):
        run_id = f"run-{number}"
        store, run = corpus_run(tmp_path, llm_config, run_id)
        file_in_parts(run, order)
        assert run.drop_duplicate_requests(store) == 1
        assert ids(store, run_id, "dialogs") == ["a-10", "a-2"]  # natural order: a-2 < a-10 < b-2
        (moved,) = store.read_records(run_id, "rejected_dialogs", Dialog)
        assert (moved.dialog_id, moved.rejection_rule) == ("b-2", "duplicate_request")
        assert "a-10" in moved.rejection_reason and moved.verdicts[-1].layer == "dedup"
        (rejection,) = store.read_records(run_id, "rejections", Rejection)
        assert (rejection.item_id, rejection.step) == ("b-2", "dedup")
        assert run.dialogs is not None and run.dialogs.info.rows == 2  # the manifest's count follows
        assert run.dedup_stats is not None and (run.dedup_stats.dialogs, run.dedup_stats.passed) == (3, 2)


def test_a_pass_that_died_after_moving_a_dialogue_is_finished_on_resume(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config, "crashed")
    file_in_parts(run, DIALOGS)
    assert run.rejected_dialogs is not None and run.rejections is not None
    # the pass wrote the moved dialogue and its rejection, then died before writing its part again
    run.rejected_dialogs.add([DIALOGS[0].rejected("duplicate_request", "of a-10")])
    run.reject("dedup", "b-2", "duplicate_request", "of a-10")
    run.close_verification()
    run.write_manifest("running")

    store, resumed = corpus_run(tmp_path, llm_config, "crashed", resume=True)
    assert resumed.drop_duplicate_requests(store) == 0  # nothing new to move
    assert ids(store, "crashed", "dialogs") == ["a-10", "a-2"]
    assert ids(store, "crashed", "rejected_dialogs") == ["b-2"]  # once
    assert [r.item_id for r in store.read_records("crashed", "rejections", Rejection)] == ["b-2"]
