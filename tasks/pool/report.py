"""The pool's diversity report: how its APIs spread over domains and shapes (functions, parameters,
parameter types with the nested ones, constraints, response shapes, operators), beside the same
figures of the seed list (its categories; the shapes of the tools built from it in the run, when
there are any). Counted in one pass over the run's parts."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.pool import OPERATORS, PoolAPI, RejectedAPI
from schemas.seed import Seed
from schemas.tool import FunctionDoc, ParameterDoc, Tool
from storage.run_store import RunStore

PARAMETER_TYPES = (
    "string",
    "integer",
    "number",
    "boolean",
    "array of scalars",
    "object",
    "object with properties",
    "array of objects",
)
CONSTRAINTS = ("enum", "range", "format", "default")
RESPONSE_SHAPES = ("flat", "nested object", "array of objects", "not JSON")


def parameter_type(param: ParameterDoc) -> str:
    if param.type == "array":
        return "array of objects" if param.items_type == "object" else "array of scalars"
    if param.type == "object":
        return "object with properties" if param.properties else "object"
    return param.type


def response_shape(function: FunctionDoc) -> str:
    if function.response_media_type != "application/json":
        return "not JSON"
    if any(f.type == "array" and f.items_type == "object" for f in function.response_fields):
        return "array of objects"
    if any(f.type == "object" and f.fields for f in function.response_fields):
        return "nested object"
    return "flat"


@dataclass
class Shapes:
    """The shape figures of a set of APIs (their functions)."""

    apis: int = 0
    by_domain: Counter[str] = field(default_factory=Counter)
    functions: list[int] = field(default_factory=list)
    parameters: list[int] = field(default_factory=list)
    types: Counter[str] = field(default_factory=Counter)
    constraints: Counter[str] = field(default_factory=Counter)
    responses: Counter[str] = field(default_factory=Counter)
    operators: Counter[str] = field(default_factory=Counter)

    def add(self, domain: str, functions: list[FunctionDoc], operators: Iterable[str] = ()) -> None:
        self.apis += 1
        self.by_domain[domain] += 1
        self.functions.append(len(functions))
        self.operators.update(operators)
        for function in functions:
            self.parameters.append(len(function.parameters))
            self.responses[response_shape(function)] += 1
            for param in function.parameters:
                self.types[parameter_type(param)] += 1
                self.constraints.update(
                    name
                    for name, present in (
                        ("enum", bool(param.enum)),
                        ("range", param.minimum is not None or param.maximum is not None),
                        ("format", bool(param.format)),
                        ("default", param.default is not None),
                    )
                    if present
                )


@dataclass
class PoolReport:
    """The pool's figures and the seed list's."""

    pool: Shapes
    seed_tools: Shapes
    seed_categories: Counter[str]
    rejected: Counter[str]

    def rows(self) -> list[tuple[str, str, str]]:
        """(figure, pool, seed list) for each line of the table."""
        seeds, pool = self.seed_tools, self.pool
        built = seeds.apis > 0

        def spread(counts: Counter[str]) -> str:
            if not counts:
                return "-"
            values = sorted(counts.values())
            return f"{values[0]} / {statistics.median(values):g} / {values[-1]}"

        def mean(values: list[int]) -> str:
            return f"{statistics.fmean(values):.2f} (max {max(values)})" if values else "-"

        def share(counts: Counter[str], key: str, total: int) -> str:
            return f"{counts[key]:,} ({counts[key] / total:.0%})" if total else "-"

        seed_params = sum(seeds.types.values())
        pool_params = sum(pool.types.values())
        seed_functions, pool_functions = len(seeds.parameters), len(pool.parameters)
        rows = [
            ("APIs", f"{pool.apis:,}", f"{sum(self.seed_categories.values()):,}"),
            ("domains (categories)", f"{len(pool.by_domain):,}", f"{len(self.seed_categories):,}"),
            ("APIs per domain (min / median / max)", spread(pool.by_domain), spread(self.seed_categories)),
            ("functions per API", mean(pool.functions), mean(seeds.functions) if built else "-"),
            ("parameters per function", mean(pool.parameters), mean(seeds.parameters) if built else "-"),
        ]
        rows += [
            (
                f"parameters: {kind}",
                share(pool.types, kind, pool_params),
                share(seeds.types, kind, seed_params),
            )
            for kind in PARAMETER_TYPES
        ]
        rows += [
            (f"constraint: {kind}", share(pool.constraints, kind, pool_params),
             share(seeds.constraints, kind, seed_params))
            for kind in CONSTRAINTS
        ]  # fmt: skip
        rows += [
            (f"response: {kind}", share(pool.responses, kind, pool_functions),
             share(seeds.responses, kind, seed_functions))
            for kind in RESPONSE_SHAPES
        ]  # fmt: skip
        rows += [(f"operator: {name}", f"{pool.operators[name]:,}", "-") for name in OPERATORS]
        rows += [(f"rejected: {rule}", f"{n:,}", "-") for rule, n in sorted(self.rejected.items())]
        return rows

    def markdown(self) -> str:
        seed_note = (
            "the seed list's categories, and the shapes of the tools built from it in this run"
            if self.seed_tools.apis
            else "the seed list's categories (no tool was built from it in this run: its shapes are '-')"
        )
        lines = [
            "# The API pool's diversity",
            "",
            f"Pool: the {self.pool.apis:,} APIs kept. Seed list: {seed_note}. Parameter shares are of all "
            "parameters, response shares of all functions.",
            "",
            "| figure | pool | seed list |",
            "| --- | ---: | ---: |",
        ]
        lines += [f"| {figure} | {pool} | {seeds} |" for figure, pool, seeds in self.rows()]
        return "\n".join(lines) + "\n"


def pool_report(store: RunStore, run_id: str) -> PoolReport:
    """The diversity report of a run's pool, from its parts."""
    pool, seed_tools = Shapes(), Shapes()
    for api in store.iter_records(run_id, "apis", PoolAPI):
        pool.add(api.domain, api.functions, api.operators)
    if store.has_artifact(run_id, "tools"):
        for tool in store.iter_records(run_id, "tools", Tool):
            if tool.origin == "list":
                seed_tools.add(tool.category, tool.functions)
    categories: Counter[str] = Counter()
    if store.has_artifact(run_id, "seeds"):
        categories.update(seed.category for seed in store.iter_records(run_id, "seeds", Seed))
    rejected: Counter[str] = Counter()
    if store.has_artifact(run_id, "rejected_apis"):
        rejected.update(r.rule for r in store.iter_records(run_id, "rejected_apis", RejectedAPI))
    return PoolReport(pool=pool, seed_tools=seed_tools, seed_categories=categories, rejected=rejected)
