"""The part writers of a run, one per artifact its steps fill; and an earlier run's artifacts taken
as a run's own (`--from-run`)."""

from __future__ import annotations

from flows.parts import copy_run
from schemas.seed import Seed
from tests.support.run_units import corpus_run, instruction
from tests.support.scripts import SEED


def test_a_run_writes_the_artifacts_of_its_steps_only(tmp_path, llm_config):
    _, full = corpus_run(tmp_path / "full", llm_config)
    assert full.parts.dialogs is not None and full.parts.instructions is not None and full.parts.pool is None
    _, toolset = corpus_run(tmp_path / "toolset", llm_config, stages=["toolset"])
    assert (toolset.parts.instructions, toolset.parts.dialogs, toolset.parts.rejected_dialogs) == (
        None,
        None,
        None,
    )
    _, pool = corpus_run(tmp_path / "pool", llm_config, pool={"size": 3})
    assert pool.parts.pool is not None and pool.parts.pool.apis.name == "apis"


def test_an_earlier_runs_artifacts_are_taken_as_the_runs_own_in_their_order(tmp_path, llm_config):
    store, earlier = corpus_run(tmp_path, llm_config, "earlier")
    assert earlier.parts.instructions is not None
    for number in range(3):
        earlier.parts.seeds.add([SEED.model_copy(update={"seed_id": f"seed-{number}"})])
        earlier.parts.seeds.flush()
    earlier.parts.instructions.add([instruction(1)])
    earlier.writer.close_parts()
    _, later = corpus_run(tmp_path, llm_config, "later")
    copy_run(store, "earlier", ["seeds", "instructions"], later.writer, rows=1000)
    assert [s.seed_id for s in store.read_records("later", "seeds", Seed)] == ["seed-0", "seed-1", "seed-2"]
    assert store.read_column("later", "instructions", "instruction_id") == ["atlas-1"]
