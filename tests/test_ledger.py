"""The run's ledger: each rejection filed and counted by step, the stages' counts from what the parts
hold, the manifest as it stands, rewritten when parts landed (at most every `MANIFEST_EVERY_S`) and at
least every `HEARTBEAT_S`, and the summary table's rows."""

from __future__ import annotations

from flows.ledger import HEARTBEAT_S, MANIFEST_EVERY_S, SUMMARY_ROWS
from schemas.rejection import Rejection
from schemas.seed import Seed
from tests.support.run_units import corpus_run
from tests.support.scripts import SEED


def seeds(count: int) -> list[Seed]:
    return [SEED.model_copy(update={"seed_id": f"seed-{n}"}) for n in range(count)]


def test_a_rejection_is_filed_to_rejections_and_counted_by_its_step(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config)
    run.ledger.reject("instructions", "atlas", "no_instructions", "nothing to ask")
    run.parts.rejections.flush()
    (rejection,) = store.read_records("run", "rejections", Rejection)
    assert (rejection.item_id, rejection.step, rejection.rule) == ("atlas", "instructions", "no_instructions")
    assert run.ledger.rejected_by_step == {"instructions": 1}


def test_the_stages_counts_follow_what_the_parts_hold(tmp_path, llm_config):
    _, run = corpus_run(tmp_path, llm_config)
    run.parts.seeds.add(seeds(3))
    run.parts.seeds.flush()
    run.ledger.reject("instructions", "seed-0", "no_instructions", "none")
    stages = {stage.name: stage for stage in run.ledger.stage_stats()}
    assert list(stages) == ["toolset", "instructions", "simulation"]  # the run's progress lines, in order
    toolset = stages["toolset"]
    assert (toolset.inputs, toolset.outputs, toolset.rejected, toolset.unfinished) == (3, 0, 0, 3)
    assert (stages["instructions"].inputs, stages["instructions"].rejected) == (0, 1)


def test_the_manifest_tells_the_run_as_it_stands(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config)
    run.ledger.notes.append("tool atlas: fewer instructions than asked for")
    run.ledger.inputs["seeds_sha256"] = "abc"
    run.ledger.write_manifest("running", task_runs=7)
    manifest = store.read_manifest("run")
    assert (manifest.status, manifest.task_runs, manifest.finished_at) == ("running", 7, None)
    assert manifest.notes == ["tool atlas: fewer instructions than asked for"]
    assert manifest.inputs == {"seeds_sha256": "abc"}
    run.ledger.write_manifest("completed", task_runs=9)
    assert store.read_manifest("run").finished_at is not None


def test_the_manifest_is_rewritten_when_parts_landed_and_at_least_every_heartbeat(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config)
    now = [1000.0]
    run.ledger.clock = lambda: now[0]

    def tick_after(seconds: float, task_runs: int, land: bool) -> int:
        """The task runs the manifest tells after a tick `seconds` later (a part landed, or none)."""
        now[0] += seconds
        if land:
            run.parts.seeds.add(seeds(1))
            run.parts.seeds.flush()
        run.ledger.tick(task_runs)
        return store.read_manifest("run").task_runs

    run.ledger.write_manifest("running", task_runs=0)
    assert tick_after(MANIFEST_EVERY_S / 2, 1, land=True) == 0  # landed, but written moments ago
    assert tick_after(MANIFEST_EVERY_S, 2, land=False) == 0  # due, but nothing landed
    assert tick_after(0, 3, land=True) == 3
    assert tick_after(HEARTBEAT_S - 1, 4, land=False) == 3
    assert tick_after(1, 5, land=False) == 5  # the heartbeat


def test_the_summary_has_a_row_per_tool_in_order_and_at_most_its_limit(tmp_path, llm_config):
    _, run = corpus_run(tmp_path, llm_config)
    for number in range(SUMMARY_ROWS + 5):
        run.ledger.tool_counts(f"tool-{number:05d}")["accepted"] += number
    run.ledger.tool_counts("tool-00001")["functions"] = 2
    rows = list(run.ledger.summary_rows())
    assert len(rows) == SUMMARY_ROWS
    assert rows[1] == {"tool": "tool-00001", "functions": 2, "instructions": 0, "accepted": 1, "rejected": 0}
