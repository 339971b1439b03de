"""What the pool grows and in what order: its settings, the taxonomy as it is grown, and the plan of
each API (the part of the taxonomy it covers, its operators, its examples).

Everything here is decided by the settings' seed and the API's position, never by timing: a re-run
or a resumed run plans the same APIs, asks the same questions and gets the cached answers.
Generation g's examples are APIs kept in generation g-1, so a generation starts once the one before
it is filed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator

from schemas.option import Option
from schemas.pool import OPERATORS, APISketch, NodeDraft, Operator, TaxonomyNode

LARGEST_GENERATION = 256
"""APIs per generation, at most: the pool's examples are at most this many APIs behind."""


class PoolSettings(BaseModel):
    """Knobs of the API pool (`--evolve N` on the corpus flow, `python -m flows.pool --size N`)."""

    size: Annotated[int, Option(flag="evolve", metavar="N")] = Field(
        default=0,
        ge=0,
        description="APIs the pool grows by ToolACE's self-evolution and keeps, each made a tool "
        "(0: no pool).",
    )
    domains: Annotated[list[str], Option(flag="domain", metavar="NAME", repeat=True)] = Field(
        default_factory=list,
        description="A domain to grow the taxonomy from (repeat for several; default: the seed list's "
        "categories).",
    )
    breadth: Annotated[int, Option(flag="domains", metavar="N")] = Field(
        default=30, ge=1, description="Domains at least: the LLM adds what is missing."
    )
    coarse: int = Field(default=4, ge=1, le=20, description="Coarse functions per domain, at most.")
    fine: int = Field(default=4, ge=1, le=20, description="Fine functions per coarse function.")
    operators: Annotated[list[Operator], Option(metavar="OPERATOR,...")] = Field(
        default_factory=lambda: list(OPERATORS), description="The diversity operators to draw from."
    )
    operators_per_api: Annotated[int, Option(metavar="N")] = Field(
        default=2,
        ge=0,
        le=len(OPERATORS),
        description="Operators applied per API (at most as many as offered).",
    )
    examples: Annotated[int, Option(flag="pool-examples", metavar="N")] = Field(
        default=2, ge=0, le=8, description="Earlier APIs shown to each new one."
    )
    max_functions: int = Field(default=3, ge=1, le=5, description="Functions an API is written with.")
    dedup_threshold: Annotated[float, Option(flag="pool-dedup-threshold", metavar="J")] = Field(
        default=0.7, gt=0, le=1, description="APIs sharing this share of name and description words are one."
    )
    max_proposals: Annotated[float, Option(cli=False)] = Field(
        default=2.0, ge=1, description="APIs proposed at most, as a multiple of size (dedup rejects some)."
    )
    seed: Annotated[int, Option(flag="pool-seed", metavar="S")] = Field(
        default=0, description="Seed of the pool's plans."
    )
    only: Annotated[bool, Option(cli=False)] = Field(
        default=False, description="Build only the pool's tools, not the seed list's."
    )

    @field_validator("operators")
    @classmethod
    def _distinct(cls, operators: list[Operator]) -> list[Operator]:
        return list(dict.fromkeys(operators))

    @model_validator(mode="after")
    def _coherent(self) -> PoolSettings:
        """At most as many operators per API as there are operators; a run of the pool alone grows one."""
        self.operators_per_api = min(self.operators_per_api, len(self.operators))
        if self.only and self.size < 1:
            raise ValueError(f"the pool's run grows at least one API, not {self.size}")
        return self

    def generation_size(self) -> int:
        """APIs per generation: a quarter of the pool (so small pools evolve too), 2 to 256."""
        return max(2, min(LARGEST_GENERATION, math.ceil(self.size / 4)))

    def proposals(self) -> int:
        return math.ceil(self.size * self.max_proposals)


class APIPlan(BaseModel):
    """One API to synthesize: where it sits in the taxonomy, what changes it gets, what it is shown."""

    api_id: str
    index: int
    generation: int
    domain: TaxonomyNode
    coarse: TaxonomyNode
    fine: list[TaxonomyNode]
    operators: list[Operator] = Field(description="In order of preference: the first applicable are applied.")
    operators_wanted: int
    examples: list[APISketch]
    max_functions: int


def api_id(index: int) -> str:
    return f"pool-{index:06d}"


class Taxonomy:
    """The taxonomy as grown so far: nodes by id, children by parent, in the order they were added."""

    def __init__(self, nodes: Iterable[TaxonomyNode] = ()) -> None:
        self.nodes: dict[str, TaxonomyNode] = {}
        self.children: dict[str | None, list[TaxonomyNode]] = {}
        for node in nodes:
            self.add(node)

    def add(self, node: TaxonomyNode) -> None:
        self.nodes[node.node_id] = node
        self.children.setdefault(node.parent_id, []).append(node)

    def domains(self) -> list[TaxonomyNode]:
        return list(self.children.get(None, []))

    def below(self, node_id: str) -> list[TaxonomyNode]:
        return list(self.children.get(node_id, []))

    def grow(self, parent: TaxonomyNode | None, drafts: Sequence[NodeDraft]) -> list[TaxonomyNode]:
        """Add the LLM's new children of `parent` (domains when None); names already there are left
        out (a second answer may repeat them), and what was added is returned."""
        level = "domain" if parent is None else ("coarse" if parent.level == "domain" else "fine")
        siblings = self.children.get(parent.node_id if parent else None, [])
        taken = {node.name.casefold() for node in siblings}
        added = []
        for draft in drafts:
            name = draft.name.strip()
            if name.casefold() in taken:
                continue
            taken.add(name.casefold())
            position = len(siblings) + len(added)
            node_id = f"d{position}" if parent is None else f"{parent.node_id}.{level[0]}{position}"
            added.append(
                TaxonomyNode(
                    node_id=node_id,
                    level=level,  # type: ignore[arg-type]
                    name=name,
                    description=draft.description.strip(),
                    parent_id=parent.node_id if parent else None,
                    path=[*(parent.path if parent else []), name],
                    origin="llm",
                )
            )
        for node in added:
            self.add(node)
        return added


def starting_domains(settings: PoolSettings, categories: Sequence[str]) -> list[TaxonomyNode]:
    """The taxonomy's first domains: the user's (`--domain`), else the seed list's categories, in the
    order given, each once."""
    names = settings.domains or list(categories)
    origin = "user" if settings.domains else "seed"
    unique = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    return [
        TaxonomyNode(node_id=f"d{i}", level="domain", name=name, path=[name], origin=origin)  # type: ignore[arg-type]
        for i, name in enumerate(unique)
    ]


def domains_in_use(settings: PoolSettings, domains: Sequence[TaxonomyNode]) -> list[TaxonomyNode]:
    """The domains the pool's APIs are spread over, in a seeded order: all of them, or, for a pool
    smaller than the taxonomy, as many as it has APIs (only those are grown further)."""
    chosen = list(domains)
    random.Random(f"{settings.seed}:domains").shuffle(chosen)
    return chosen[: max(1, min(len(chosen), settings.size))]


def coarse_wanted(settings: PoolSettings, domains_used: int) -> int:
    """Coarse functions grown per domain: as many as the domain's share of the pool can use."""
    return max(1, min(settings.coarse, math.ceil(settings.size / max(1, domains_used))))


def plan_api(
    settings: PoolSettings,
    taxonomy: Taxonomy,
    domains: Sequence[TaxonomyNode],
    index: int,
    generation: int,
    earlier: Sequence[APISketch],
) -> APIPlan | None:
    """The plan of the API at `index` (None when no domain has grown fine functions): its domain in
    turn, a coarse function and 1 to 3 of its fine functions, its operators and `earlier` examples,
    all drawn by a generator seeded with the settings' seed and the index."""
    rng = random.Random(f"{settings.seed}:api:{index}")
    usable = [d for d in domains if any(taxonomy.below(c.node_id) for c in taxonomy.below(d.node_id))]
    if not usable:
        return None
    domain = usable[index % len(usable)]
    coarse = rng.choice([c for c in taxonomy.below(domain.node_id) if taxonomy.below(c.node_id)])
    fines = taxonomy.below(coarse.node_id)
    fine = rng.sample(fines, k=rng.randint(1, min(3, len(fines))))
    operators = list(settings.operators)
    rng.shuffle(operators)
    examples = rng.sample(list(earlier), k=min(settings.examples, len(earlier)))
    return APIPlan(
        api_id=api_id(index),
        index=index,
        generation=generation,
        domain=domain,
        coarse=coarse,
        fine=fine,
        operators=operators,
        operators_wanted=min(settings.operators_per_api, len(operators)),
        examples=examples,
        max_functions=settings.max_functions,
    )
