"""What a run takes up: a resumed run's ledger as its manifest left it, the ids each step already
filed (and the counts per tool and per step), the simulation units of the instructions not simulated
yet, and the seeds a unit's dialogues may offer beside its tool (only when they offer several)."""

from __future__ import annotations

from flows.resumption import SimulationUnits, done_ids, take_up, waiting_simulations
from tasks.simulation import SimulationSettings
from tests.support.records import make_dialog
from tests.support.run_units import corpus_run, instruction
from tests.support.scripts import SEED, atlas_tool


def test_a_resumed_run_knows_what_each_step_filed_and_counts_on_from_there(
    tmp_path, llm_config, scripted_llm
):
    store, run = corpus_run(tmp_path, llm_config)
    assert run.parts.instructions is not None and run.parts.dialogs is not None
    run.parts.tools.add([atlas_tool(scripted_llm, llm_config)])
    run.parts.instructions.add([instruction(1), instruction(2)])
    run.parts.dialogs.add([make_dialog("atlas-1").model_copy(update={"tool_id": "atlas"})])
    run.ledger.reject("instructions", "tides", "no_instructions", "none")
    run.writer.close_parts()

    _, resumed = corpus_run(tmp_path, llm_config, resume=True)
    done = done_ids(store, "run", resumed.ledger)
    assert done == {"toolset": {"atlas"}, "instructions": {"atlas", "tides"}, "simulation": {"atlas-1"}}
    assert resumed.ledger.rejected_by_step == {"instructions": 1}
    assert resumed.ledger.tool_counts("atlas") == {"instructions": 2, "accepted": 1}
    (unit,) = waiting_simulations(store, "run", done["simulation"], resumed.units)
    assert (unit.tool.tool_id, [i.instruction_id for i in unit.instructions]) == ("atlas", ["atlas-2"])


def test_a_resumed_run_goes_on_with_its_manifest_s_start_inputs_and_notes(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config)
    run.ledger.inputs["seeds_sha256"] = "abc"
    run.ledger.notes.append("tool atlas: fewer instructions")
    run.ledger.write_manifest("failed", task_runs=3)
    _, resumed = corpus_run(tmp_path, llm_config, resume=True)
    take_up(resumed.ledger, store.read_manifest("run"))
    assert resumed.ledger.started_at == run.ledger.started_at and resumed.ledger.inputs == {
        "seeds_sha256": "abc"
    }
    assert len(resumed.ledger.resumed) == 1
    assert resumed.outcomes.notes is resumed.ledger.notes == ["tool atlas: fewer instructions"]


def test_a_unit_offers_the_seeds_of_its_tools_category_only_when_dialogues_offer_several(
    tmp_path, llm_config, scripted_llm
):
    tool = atlas_tool(scripted_llm, llm_config)
    other, elsewhere = (
        SEED.model_copy(update={"seed_id": "maps"}),
        SEED.model_copy(update={"seed_id": "x", "category": "Y"}),
    )
    several = SimulationUnits(SimulationSettings(tools_per_dialog=2))
    several.index([SEED, other, elsewhere], excluded={"maps"})
    assert several.unit(tool, [instruction(1)]).candidates == [SEED]
    one = SimulationUnits(SimulationSettings())
    one.index([SEED, other])
    assert one.unit(tool, [instruction(1)]).candidates == []
