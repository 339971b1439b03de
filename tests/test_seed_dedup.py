"""The seed dedup before the toolset: a seed that repeats an API listed before it is not built; it is
filed as a rejected tool of step `dedup` naming the seed kept, as a rejection, and counted done on
the toolset's progress line; a resumed run reads back which seeds it dropped."""

from __future__ import annotations

from flows.seed_dedup import drop_duplicate_seeds, duplicate_seed_ids
from schemas.rejection import Rejection
from schemas.tool import RejectedTool
from tests.support.run_units import corpus_run
from tests.support.scripts import SEED

REPEAT = SEED.model_copy(update={"seed_id": "atlas-2"})  # the same link: the same API
OTHER = SEED.model_copy(
    update={
        "seed_id": "tides",
        "name": "Tides",
        "description": "Tide tables",
        "link": "https://tides.example",
    }
)


def test_a_repeated_api_is_filed_as_a_duplicate_of_the_seed_kept(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config)
    run.board.expect("toolset", 3)
    kept = drop_duplicate_seeds([SEED, REPEAT, OTHER], run.parts.rejected_tools, run.ledger, run.board)
    assert [seed.seed_id for seed in kept] == ["atlas", "tides"]
    run.writer.close_parts()
    (dropped,) = store.read_records("run", "rejected_tools", RejectedTool)
    assert (dropped.tool_id, dropped.step, dropped.rule, dropped.duplicate_of) == (
        "atlas-2",
        "dedup",
        "duplicate_tool",
        "atlas",
    )
    (rejection,) = store.read_records("run", "rejections", Rejection)
    assert (rejection.item_id, rejection.step, rejection.rule) == ("atlas-2", "dedup", "duplicate_tool")
    assert run.board.stages["toolset"].rejected == 1
    assert duplicate_seed_ids(store, "run") == {"atlas-2"}


def test_a_list_without_repeats_is_kept_whole(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config)
    assert drop_duplicate_seeds([SEED, OTHER], run.parts.rejected_tools, run.ledger, run.board) == [
        SEED,
        OTHER,
    ]
    run.writer.close_parts()
    assert duplicate_seed_ids(store, "run") == set()
