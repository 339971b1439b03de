"""The API pool as it grows, driven without a scheduler: each handler returns what comes next (nodes
to grow, then the plans of a generation), files into the pool's own parts, and notes what it could
not do in the run's ledger."""

from __future__ import annotations

from schemas.pool import NodeDraft
from tasks.batch import Batch
from tasks.pool.plan import APIPlan
from tasks.pool.synthesize import Growth
from tests.support.run_units import corpus_run, returned


def drafts(*names: str) -> list[NodeDraft]:
    return [NodeDraft(name=name, description=f"Everything about {name.lower()}.") for name in names]


def test_the_pool_returns_the_nodes_to_grow_then_the_first_generations_plans(tmp_path, llm_config):
    store, run = corpus_run(tmp_path, llm_config, pool={"size": 2, "breadth": 1, "coarse": 1, "fine": 1})
    pool = run.pool
    assert pool is not None
    (domains,) = pool.start(["Geo"])  # the seed list's category is the one domain asked for
    assert isinstance(domains, Growth) and domains.parent is not None and domains.parent.name == "Geo"
    (fine,) = pool.file_growths([domains], returned(Batch(results=[(domains, drafts("Places"))])))
    assert isinstance(fine, Growth) and fine.parent is not None and fine.parent.name == "Places"
    plans = pool.file_growths([fine], returned(Batch(results=[(fine, drafts("Find a place"))])))
    assert plans and all(isinstance(plan, APIPlan) for plan in plans)  # the taxonomy is whole
    run.writer.close_parts()
    assert len(store.read_column("run", "taxonomy", "node_id")) == 3


def test_a_node_that_did_not_grow_is_noted_and_a_pool_with_nothing_to_plan_stops(tmp_path, llm_config):
    _, run = corpus_run(tmp_path, llm_config, pool={"size": 2, "breadth": 1})
    pool = run.pool
    assert pool is not None
    (domains,) = pool.start(["Geo"])
    assert pool.file_growths([domains], returned(Batch(results=[(domains, [])]))) == []
    assert run.ledger.notes == [
        "pool: the taxonomy did not grow below Geo (no usable answer)",
        "pool: no domain has fine functions to write APIs for; it stops",
    ]
    assert pool.done
