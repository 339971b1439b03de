"""The pool's two LLM steps: growing a taxonomy node (speciation), and synthesizing a planned API
(adaptation, then evolution by its operators). Plain functions over one item (tests call them), and
the Prefect tasks over a batch (`tasks/batch.py` says how a batch fails and retries)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway, StructuredOutputError, gateway_for
from agents.toolsmith import pool as toolsmith
from schemas.pool import NodeDraft, PoolAPI, PoolRejectRule, RejectedAPI, TaxonomyNode
from schemas.rejection import Rejection
from tasks.batch import Batch, BatchStep, batch_task
from tasks.pool.operators import OPERATORS, OperatorSpec, decoding_schema
from tasks.pool.plan import APIPlan

# -- the taxonomy -------------------------------------------------------------------------------------


class Growth(BaseModel):
    """One node to grow: its new children's level is the one below it (domains under the root)."""

    parent: TaxonomyNode | None = Field(description="None: the root, whose children are domains.")
    count: int = Field(ge=1)
    existing: list[str] = Field(default_factory=list, description="Names its children have already.")

    @property
    def item_id(self) -> str:
        return self.parent.node_id if self.parent else "root"


def grow_node(growth: Growth, gateway: LLMGateway) -> list[NodeDraft]:
    """The LLM's new children of one node."""
    parent = growth.parent
    if parent is None:
        task = "List more domains of software APIs (areas such as finance, health or travel)."
        where = "They join the domains above."
    elif parent.level == "domain":
        task = f"List coarse functions of APIs in the {parent.name} domain: broad kinds of service."
        where = f"Domain: {parent.name}. {parent.description}".strip()
    else:
        task = f"List fine functions within '{parent.name}': specific things an API call does."
        where = f"Domain: {parent.path[0]}. Coarse function: {parent.name}. {parent.description}".strip()
    return toolsmith.grow_children(
        gateway, task=task, where=where, count=growth.count, existing=growth.existing
    )


TAXONOMY: BatchStep[Growth, list[NodeDraft]] = BatchStep(
    "taxonomy", item_id=lambda growth: growth.item_id, rejected=lambda growth, rejection: []
)
"""A node whose growth failed gets no children (the run notes it)."""


@batch_task("grow-taxonomy", "taxonomy-{growths[0].item_id}")
def grow_nodes_task(growths: list[Growth], llm: LLMConfig, run_id: str) -> Batch[Growth, list[NodeDraft]]:
    """Prefect task: a batch of nodes grown, on the run's shared gateway."""
    gateway = gateway_for(llm, run_id)
    return TAXONOMY.run(growths, lambda growth: grow_node(growth, gateway))


# -- the APIs -----------------------------------------------------------------------------------------


def _rejected(plan: APIPlan, rule: PoolRejectRule, reason: str, name: str = "") -> RejectedAPI:
    return RejectedAPI(
        api_id=plan.api_id,
        index=plan.index,
        generation=plan.generation,
        name=name,
        domain=plan.domain.name,
        rule=rule,
        reason=reason,
    )


def rejected_api(plan: APIPlan, rejection: Rejection) -> RejectedAPI:
    """The record of a planned API that did not enter the pool, by `rejection`."""
    shared = rejection.model_dump(exclude={"item_id"})
    return RejectedAPI(
        api_id=plan.api_id, index=plan.index, generation=plan.generation, domain=plan.domain.name, **shared
    )


def synthesize_api(plan: APIPlan, gateway: LLMGateway) -> PoolAPI | RejectedAPI:
    """An API for the plan's part of the taxonomy, evolved by the first `operators_wanted` of its
    operators that can apply, or the rule and reason it could not be made."""
    try:
        draft = toolsmith.write_api(
            gateway,
            domain=plan.domain.name,
            coarse=plan.coarse.name,
            needs=[(node.name, node.description) for node in plan.fine],
            examples=plan.examples,
            max_functions=plan.max_functions,
        )
    except StructuredOutputError as exc:
        return _rejected(plan, "no_api", str(exc))
    functions, applied = draft.functions, []
    for name in plan.operators:
        if len(applied) == plan.operators_wanted:
            break
        operator = OPERATORS[name]
        if not operator.applies(functions):
            continue
        before = functions

        def check(change: BaseModel, before: list = before, operator: OperatorSpec = operator) -> None:
            after = operator.apply(before, change)
            if not operator.shows(before, after):
                raise ValueError(f"that change does not {operator.name.replace('_', ' ')}")

        try:
            change = toolsmith.write_change(
                gateway,
                name=draft.name,
                description=draft.description,
                functions=functions,
                instruction=operator.instruction,
                output=operator.change,
                decoding_schema=decoding_schema(operator, functions),
                check=check,
            )
        except StructuredOutputError as exc:
            return _rejected(plan, "operator_not_applied", f"{name}: {exc}", draft.name)
        functions = operator.apply(before, change)
        applied.append(name)
    if len(applied) < plan.operators_wanted:
        wanted = plan.operators_wanted
        return _rejected(
            plan,
            "operator_not_applied",
            f"{len(applied)} of {wanted} operators could apply to it",
            draft.name,
        )
    return PoolAPI(
        api_id=plan.api_id,
        index=plan.index,
        generation=plan.generation,
        name=draft.name.strip(),
        description=draft.description.strip(),
        domain=plan.domain.name,
        taxonomy_path=[plan.domain.name, plan.coarse.name],
        covers=[node.node_id for node in plan.fine],
        operators=applied,
        examples=[example.api_id for example in plan.examples],
        functions=functions,
        model=gateway.config.model_for(toolsmith.ROLE),
    )


POOL: BatchStep[APIPlan, PoolAPI | RejectedAPI] = BatchStep(
    "pool", item_id=lambda plan: plan.api_id, rejected=rejected_api
)


@batch_task("synthesize-apis", "apis-{plans[0].api_id}")
def synthesize_apis_task(
    plans: list[APIPlan], llm: LLMConfig, run_id: str
) -> Batch[APIPlan, PoolAPI | RejectedAPI]:
    """Prefect task: a batch of planned APIs synthesized, on the run's shared gateway."""
    gateway = gateway_for(llm, run_id)
    return POOL.run(plans, lambda plan: synthesize_api(plan, gateway))
