"""The API pool of a run as it grows: the taxonomy first, then the APIs generation by generation,
each kept API handed to the toolset step as it is kept.

`PoolGrowth` files what the pool's two steps return (`taxonomy`: nodes grown; `pool`: APIs
synthesized) into the run's parts (`taxonomy/`, `apis/`, `rejected_apis/`, and `rejections` with
step `pool`), and decides what comes next: the nodes to grow below the new ones, and once the
taxonomy is whole, the plans of the next generation once the last one is filed. A generation is
deduplicated in plan order when its last API arrives, so what is kept does not depend on timing;
the examples of generation g are the APIs generation g-1 kept.

A resumed run reads back what its parts hold: the taxonomy when it was finished, and every API
filed; a generation cut short is planned again, its filed APIs taken as they were, the rest done
again (the LLM cache answers what was paid for).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from prefect.futures import PrefectFuture

from schemas.pool import APISketch, NodeDraft, PoolAPI, RejectedAPI, TaxonomyNode
from storage.run_store import RunStore
from tasks.dedup import NearDuplicates
from tasks.pool.plan import (
    APIPlan,
    PoolSettings,
    Taxonomy,
    coarse_wanted,
    domains_in_use,
    plan_api,
    starting_domains,
)
from tasks.pool.synthesize import Growth, failed_api, failed_growth

if TYPE_CHECKING:
    from flows.filing import CorpusRun

Outcome = PoolAPI | RejectedAPI


def api_text(name: str, description: str) -> str:
    """What the dedup compares of an API: its name and description."""
    return f"{name}. {description}"


class PoolGrowth:
    """The pool of one run; see the module's docstring."""

    def __init__(self, run: CorpusRun, settings: PoolSettings) -> None:
        self.run, self.settings = run, settings

        def parts(name: str, model: type[Any]) -> Any:
            return run.writer.parts(name, model, rows=run.config.parts.rows, seconds=run.config.parts.seconds)

        self.taxonomy_parts = parts("taxonomy", TaxonomyNode)
        self.apis = parts("apis", PoolAPI)
        self.rejected_apis = parts("rejected_apis", RejectedAPI)
        self.taxonomy = Taxonomy()
        self.domains: list[TaxonomyNode] = []
        self.growing = 0
        self.ready = False
        self.index = NearDuplicates(settings.dedup_threshold)
        self.generation = -1
        self.next_index = 0
        self.kept = 0
        self.examples: list[APISketch] = []
        self.waiting: dict[int, Outcome | None] = {}
        self.filed: dict[int, Outcome] = {}
        """Outcomes a resumed run's parts hold, by index, not filed again."""
        self.resumed: set[int] = set()
        """The indices of the generation under way that were filed before the run was resumed."""
        self.done = False

    # -- starting and resuming ------------------------------------------------------------------------

    def start(self, categories: Sequence[str], known: Iterable[tuple[str, str]] = ()) -> None:
        """Begin with the domains of `categories` (unless the settings name their own), the texts of
        `known` APIs (id, text: the seed list's) in the dedup index, and grow what is missing: domains
        up to the breadth asked for (no more than the pool has APIs to spread over them)."""
        for item_id, text in known:
            self.index.add(item_id, text)
        for node in starting_domains(self.settings, categories):
            self.taxonomy.add(node)
        missing = min(self.settings.breadth, self.settings.size) - len(self.taxonomy.domains())
        if missing > 0:
            names = [d.name for d in self.taxonomy.domains()]
            self._grow([Growth(parent=None, count=missing, existing=names)])
        else:
            self._domains_known()

    def resume(
        self, store: RunStore, run_id: str, categories: Sequence[str], known: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Take up the pool where a run's parts left it (see the module's docstring)."""
        nodes = list(store.iter_records(run_id, "taxonomy", TaxonomyNode))
        for api in store.iter_records(run_id, "apis", PoolAPI):
            self.filed[api.index] = api
        for rejected in store.iter_records(run_id, "rejected_apis", RejectedAPI):
            self.filed[rejected.index] = rejected
        if not nodes:  # the taxonomy was not finished: grown again (from the cache)
            self.start(categories, known)
            return
        for item_id, text in known:
            self.index.add(item_id, text)
        self.taxonomy = Taxonomy(nodes)
        self.domains = domains_in_use(self.settings, self.taxonomy.domains())
        self._taxonomy_done(write=False)

    # -- the taxonomy ---------------------------------------------------------------------------------

    def _grow(self, growths: list[Growth]) -> None:
        self.growing += len(growths)
        self.run.queue("taxonomy", growths)

    def _domains_known(self) -> None:
        self.domains = domains_in_use(self.settings, self.taxonomy.domains())
        count = coarse_wanted(self.settings, len(self.domains))
        self._grow([Growth(parent=domain, count=count) for domain in self.domains])

    def file_growths(self, growths: list[Growth], future: PrefectFuture) -> None:
        """File grown nodes; grow below them; once every node is grown, write the taxonomy and plan
        the first generation."""
        batch = self.run.batch_of(future, growths, failed_growth)
        for growth, drafts in batch.results:
            self.growing -= 1
            self._file_growth(growth, drafts)
        self.run.stop_if(batch)
        if self.growing == 0 and not self.ready and self.run.stopped is None:
            self._taxonomy_done(write=True)

    def _file_growth(self, growth: Growth, drafts: list[NodeDraft]) -> None:
        added = self.taxonomy.grow(growth.parent, drafts)
        if not added:
            where = growth.parent.name if growth.parent else "the domains"
            self.run.notes.append(f"pool: the taxonomy did not grow below {where} (no usable answer)")
        if growth.parent is None:
            self._domains_known()
        elif growth.parent.level == "domain":
            self._grow([Growth(parent=node, count=self.settings.fine) for node in added])

    def _taxonomy_done(self, write: bool) -> None:
        self.ready = True
        if write:
            self.taxonomy_parts.add(list(self.taxonomy.nodes.values()))
            self.taxonomy_parts.flush(empty=True)
        self._next_generation()

    # -- the APIs -------------------------------------------------------------------------------------

    def _next_generation(self) -> None:
        """Plan and queue the next generation; filed APIs of a resumed run are taken as they are (a
        generation with nothing left to do is closed at once)."""
        while True:
            remaining = min(self.settings.size - self.kept, self.settings.proposals() - self.next_index)
            if remaining <= 0:
                self.done = True
                return
            self.generation += 1
            count = min(self.settings.generation_size(), remaining)
            indices = range(self.next_index, self.next_index + count)
            self.next_index += count
            self.waiting = {index: self.filed.pop(index, None) for index in indices}
            self.resumed = {index for index, outcome in self.waiting.items() if outcome is not None}
            plans = []
            for index in indices:
                if self.waiting[index] is None:
                    plan = plan_api(
                        self.settings, self.taxonomy, self.domains, index, self.generation, self.examples
                    )
                    if plan is None:
                        self.run.notes.append(
                            "pool: no domain has fine functions to write APIs for; it stops"
                        )
                        self.done = True
                        return
                    plans.append(plan)
            if plans:
                self.run.queue("pool", plans)
                return
            self._close_generation()

    def file_apis(self, plans: list[APIPlan], future: PrefectFuture) -> None:
        """Hold a batch's APIs; the generation is filed once its last one arrives."""
        batch = self.run.batch_of(future, plans, failed_api)
        for plan, outcome in batch.results:
            self.waiting[plan.index] = outcome
        self.run.stop_if(batch)
        if self.run.stopped is None and all(outcome is not None for outcome in self.waiting.values()):
            self._close_generation()
            self._next_generation()

    def _close_generation(self) -> None:
        """File the generation in plan order: each API against the dedup index of all kept before it."""
        kept: list[APISketch] = []
        for index in sorted(self.waiting):
            outcome = self.waiting[index]
            assert outcome is not None
            new = index not in self.resumed
            if isinstance(outcome, PoolAPI) and new:
                found = self.index.find(api_text(outcome.name, outcome.description))
                if found is not None:
                    outcome = RejectedAPI(
                        api_id=outcome.api_id,
                        index=outcome.index,
                        generation=outcome.generation,
                        name=outcome.name,
                        domain=outcome.domain,
                        rule="duplicate_api",
                        reason=f"near-duplicate of {found[0]} (name and description, "
                        f"word Jaccard {found[1]:.2f})",
                        duplicate_of=found[0],
                    )
            if isinstance(outcome, PoolAPI):
                self.index.add(outcome.api_id, api_text(outcome.name, outcome.description))
                kept.append(outcome.sketch())
                self.kept += 1
                if new:
                    self.apis.add([outcome])
                    self.run.queue_pool_api(outcome)
            elif new:
                self.rejected_apis.add([outcome])
                self.run.reject("pool", outcome.api_id, outcome.rule, outcome.reason)
            if new:
                self.run.board.advance("pool", isinstance(outcome, PoolAPI))
        self.examples = kept
        self.waiting = {}
