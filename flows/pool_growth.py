"""The API pool of a run as it grows: the taxonomy first, then the APIs generation by generation,
each kept API handed to the toolset step as it is kept.

`PoolGrowth` files what the pool's two steps return (`taxonomy`: nodes grown; `pool`: APIs
synthesized) into the pool's parts (`taxonomy/`, `apis/`, `rejected_apis/`, and `rejections` with
step `pool`), and decides what comes next, which its handlers return: the nodes to grow below the
new ones (`Growth`), once the taxonomy is whole the plans of the next generation once the last one is
filed (`APIPlan`), and each API kept, for the toolset (`PoolAPI`). A generation is
deduplicated in plan order when its last API arrives, so what is kept does not depend on timing;
the examples of generation g are the APIs generation g-1 kept.

A resumed run reads back what its parts hold: the taxonomy when it was finished, and every API
filed; a generation cut short is planned again, its filed APIs taken as they were, the rest done
again (the LLM cache answers what was paid for).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from flows.outcomes import BatchOutcomes
from flows.parts import PoolParts
from flows.progress import ProgressBoard
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
from tasks.pool.synthesize import POOL, TAXONOMY, Growth

Outcome = PoolAPI | RejectedAPI
Next = Growth | APIPlan | PoolAPI
"""What the pool's handlers return: nodes to grow, APIs to synthesize, APIs kept for the toolset."""


class Rejecting(Protocol):
    """Where the pool files its rejections and its notes (the run's ledger)."""

    notes: list[str]

    def reject(self, step: str, item_id: str, rule: str, reason: str) -> None: ...


def api_text(name: str, description: str) -> str:
    """What the dedup compares of an API: its name and description."""
    return f"{name}. {description}"


class PoolGrowth:
    """The pool of one run; see the module's docstring."""

    def __init__(
        self,
        settings: PoolSettings,
        parts: PoolParts,
        outcomes: BatchOutcomes,
        ledger: Rejecting,
        board: ProgressBoard,
    ) -> None:
        self.settings, self.parts, self.outcomes, self.ledger, self.board = (
            settings,
            parts,
            outcomes,
            ledger,
            board,
        )
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

    def start(self, categories: Sequence[str], known: Iterable[tuple[str, str]] = ()) -> list[Next]:
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
            return self._grow([Growth(parent=None, count=missing, existing=names)])
        return self._domains_known()

    def resume(
        self, store: RunStore, run_id: str, categories: Sequence[str], known: Iterable[tuple[str, str]] = ()
    ) -> list[Next]:
        """Take up the pool where a run's parts left it (see the module's docstring)."""
        nodes = list(store.iter_records(run_id, "taxonomy", TaxonomyNode))
        for api in store.iter_records(run_id, "apis", PoolAPI):
            self.filed[api.index] = api
        for rejected in store.iter_records(run_id, "rejected_apis", RejectedAPI):
            self.filed[rejected.index] = rejected
        if not nodes:  # the taxonomy was not finished: grown again (from the cache)
            return self.start(categories, known)
        for item_id, text in known:
            self.index.add(item_id, text)
        self.taxonomy = Taxonomy(nodes)
        self.domains = domains_in_use(self.settings, self.taxonomy.domains())
        return self._taxonomy_done(write=False)

    # -- the taxonomy ---------------------------------------------------------------------------------

    def _grow(self, growths: list[Growth]) -> list[Next]:
        self.growing += len(growths)
        return list(growths)

    def _domains_known(self) -> list[Next]:
        self.domains = domains_in_use(self.settings, self.taxonomy.domains())
        count = coarse_wanted(self.settings, len(self.domains))
        return self._grow([Growth(parent=domain, count=count) for domain in self.domains])

    def file_growths(self, growths: list[Growth], future: Any) -> list[Next]:
        """File grown nodes; grow below them; once every node is grown, write the taxonomy and plan
        the first generation."""
        batch = self.outcomes.of(future, growths, TAXONOMY)
        grown: list[Next] = []
        for growth, drafts in batch.results:
            self.growing -= 1
            grown += self._file_growth(growth, drafts)
        self.outcomes.stop_if(batch)
        if self.growing == 0 and not self.ready and self.outcomes.stopped is None:
            grown += self._taxonomy_done(write=True)
        return grown

    def _file_growth(self, growth: Growth, drafts: list[NodeDraft]) -> list[Next]:
        added = self.taxonomy.grow(growth.parent, drafts)
        if not added:
            where = growth.parent.name if growth.parent else "the domains"
            self.ledger.notes.append(f"pool: the taxonomy did not grow below {where} (no usable answer)")
        if growth.parent is None:
            return self._domains_known()
        if growth.parent.level == "domain":
            return self._grow([Growth(parent=node, count=self.settings.fine) for node in added])
        return []

    def _taxonomy_done(self, write: bool) -> list[Next]:
        self.ready = True
        if write:
            self.parts.taxonomy.add(list(self.taxonomy.nodes.values()))
            self.parts.taxonomy.flush(empty=True)
        return self._next_generation()

    # -- the APIs -------------------------------------------------------------------------------------

    def _next_generation(self) -> list[Next]:
        """The plans of the next generation; filed APIs of a resumed run are taken as they are (a
        generation with nothing left to do is closed at once)."""
        while True:
            remaining = min(self.settings.size - self.kept, self.settings.proposals() - self.next_index)
            if remaining <= 0:
                self.done = True
                return []
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
                        self.ledger.notes.append(
                            "pool: no domain has fine functions to write APIs for; it stops"
                        )
                        self.done = True
                        return []
                    plans.append(plan)
            if plans:
                return list(plans)
            self._close_generation()

    def file_apis(self, plans: list[APIPlan], future: Any) -> list[Next]:
        """Hold a batch's APIs; the generation is filed once its last one arrives (its kept APIs and the
        next generation's plans are returned)."""
        batch = self.outcomes.of(future, plans, POOL)
        for plan, outcome in batch.results:
            self.waiting[plan.index] = outcome
        self.outcomes.stop_if(batch)
        if self.outcomes.stopped is None and all(outcome is not None for outcome in self.waiting.values()):
            kept = self._close_generation()
            return [*kept, *self._next_generation()]
        return []

    def _close_generation(self) -> list[Next]:
        """File the generation in plan order: each API against the dedup index of all kept before it;
        the APIs kept that were not filed before, for the toolset."""
        kept: list[APISketch] = []
        for_toolset: list[Next] = []
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
                    self.parts.apis.add([outcome])
                    for_toolset.append(outcome)
            elif new:
                self.parts.rejected_apis.add([outcome])
                self.ledger.reject(outcome.step, outcome.api_id, outcome.rule, outcome.reason)
            if new:
                self.board.advance("pool", isinstance(outcome, PoolAPI))
        self.examples = kept
        self.waiting = {}
        return for_toolset
