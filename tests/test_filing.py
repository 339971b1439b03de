"""Filing a step's batch: outputs to their artifact, rejections to their records and `rejections`,
counted in the ledger; each handler returns what the batch produced for the steps after it. A batch
whose task run died is filed by the step's own failure handling; a model that stopped stops the run.
Futures made by hand: no Prefect."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from agents.llm.errors import LLMCallError, ModelUnavailable
from schemas.manifest import UsageRow
from schemas.rejection import Rejection
from schemas.tool import RejectedTool
from tasks.batch import Batch
from tasks.checks import Checked
from tasks.simulation import ToolInstructions
from tests.support.records import make_dialog
from tests.support.run_units import corpus_run, instruction, returned
from tests.support.scripts import SEED, atlas_tool


def died(error: BaseException) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_exception(error)
    return future


def test_the_toolset_files_tools_and_rejected_seeds_and_returns_the_tools(tmp_path, llm_config, scripted_llm):
    store, run = corpus_run(tmp_path, llm_config)
    tool = atlas_tool(scripted_llm, llm_config)
    tides = SEED.model_copy(update={"seed_id": "tides"})
    rejected = RejectedTool(
        tool_id="tides", name="Tides", category="Geo", step="toolset", rule="openapi", reason="bad"
    )
    usage = [UsageRow(stage="toolset", role="toolsmith", model="scripted/test", calls=2)]
    batch = Batch(results=[(SEED, tool), (tides, rejected)], usage=usage)
    run.board.expect("toolset", 2)
    assert run.filing.file_tools([SEED, tides], returned(batch)) == [tool]
    run.writer.close_parts()
    assert [t.tool_id for t in store.read_records("run", "tools", type(tool))] == ["atlas"]
    assert store.read_records("run", "rejections", Rejection)[0].rule == "openapi"
    assert run.ledger.tool_counts("atlas")["functions"] == len(tool.functions)
    assert run.gateway.ledger.summary().calls == 2  # the batch's calls in the run's usage


def test_a_batch_whose_task_run_died_is_filed_as_each_items_failure(tmp_path, llm_config, scripted_llm):
    store, run = corpus_run(tmp_path, llm_config)
    tool = atlas_tool(scripted_llm, llm_config)
    assert run.filing.file_instructions([tool], died(LLMCallError("gone", transient=False))) == []
    run.writer.close_parts()
    (rejection,) = store.read_records("run", "rejections", Rejection)
    assert (rejection.item_id, rejection.step, rejection.rule) == ("atlas", "instructions", "llm_error")
    assert run.outcomes.stopped is None


def test_a_model_that_stopped_stops_the_run_once_with_a_note(tmp_path, llm_config, scripted_llm):
    _, run = corpus_run(tmp_path, llm_config)
    tool = atlas_tool(scripted_llm, llm_config)
    stopped = ModelUnavailable("toolsmith", "scripted/test", "every call failed")
    assert run.filing.file_tools([SEED], died(stopped)) == []
    run.filing.file_instructions([tool], died(ModelUnavailable("user", "scripted/test", "again")))
    assert run.outcomes.stopped is stopped
    assert [note for note in run.ledger.notes if note.startswith("stopped:")] == [f"stopped: {stopped}"]


def test_instructions_go_on_as_one_simulation_unit_per_tool(tmp_path, llm_config, scripted_llm):
    _, run = corpus_run(tmp_path, llm_config)
    tool = atlas_tool(scripted_llm, llm_config)
    written = ToolInstructions(tool_id="atlas", instructions=[instruction(1), instruction(2)])
    (unit,) = run.filing.file_instructions([tool], returned(Batch(results=[(tool, written)])))
    assert (unit.tool, unit.instructions) == (tool, written.instructions)
    assert run.ledger.tools_with_instructions == {"atlas"}


def test_the_checks_hand_the_accepted_dialogues_to_the_judge_and_file_the_rest(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config)
    accepted, failed = (
        make_dialog("things-1"),
        make_dialog("things-2").rejected("checks", "no_final_answer", "none"),
    )
    checked = Checked()
    for dialog in (accepted, failed):
        checked.file(dialog)
    assert run.filing.file_checked_for_judge([accepted, failed], returned(checked)) == [accepted]
    assert run.filing.file_judged([accepted], returned(Batch(results=[(accepted, accepted)]))) == []
    run.writer.close_parts()
    assert [d.dialog_id for d in store.read_records("run", "dialogs", type(accepted))] == ["things-1"]
    assert [d.dialog_id for d in store.read_records("run", "rejected_dialogs", type(accepted))] == [
        "things-2"
    ]
    assert run.ledger.rejected_by_step == {"checks": 1}
