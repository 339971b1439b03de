"""The toolset step: a seed becomes a tool (introduction -> function docs -> OpenAPI spec -> NL docs)
or a rejection naming the part that refused it (its rule).

`build_tool` is the plain function for one seed (tests call it directly); `TOOLSET` declares the step
for batches, and `build_tools_task` is the Prefect task over a batch of seeds (`tasks/batch.py` says
how a batch fails and retries).
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway, StructuredOutputError, gateway_for
from agents.toolsmith import agent as toolsmith
from schemas.pool import PoolAPI
from schemas.rejection import Rejection
from schemas.seed import Seed
from schemas.spec import nl_documentation, non_textual_media, routes
from schemas.tool import RejectedTool, Tool, ToolRejectRule
from tasks import openapi, spec_validator
from tasks.batch import Batch, BatchStep, batch_task

ROLES = (toolsmith.ROLE,)
"""The model roles the toolset stage calls."""


class ToolsetSettings(BaseModel):
    """Knobs of the toolset stage."""

    max_functions: int = Field(default=3, ge=1, le=5, description="Functions documented per tool.")


def _reject(item: Seed | PoolAPI, rule: ToolRejectRule, reason: str) -> RejectedTool:
    seed = as_seed(item)
    return RejectedTool(
        tool_id=seed.seed_id, name=seed.name, category=seed.category, step="toolset", rule=rule, reason=reason
    )


def rejected_tool(item: Seed | PoolAPI, rejection: Rejection) -> RejectedTool:
    """The record of a seed that did not become a tool, by `rejection` (of the toolset step, or of
    the seed dedup)."""
    seed = as_seed(item)
    shared = rejection.model_dump(exclude={"item_id"})
    return RejectedTool(tool_id=seed.seed_id, name=seed.name, category=seed.category, **shared)


def as_seed(item: Seed | PoolAPI) -> Seed:
    """A seed, or what a pool API is as one (its id, name, description, its domain as category)."""
    if isinstance(item, Seed):
        return item
    return Seed(
        seed_id=item.api_id, name=item.name, description=item.description, category=item.domain, source="pool"
    )


def build_tool(
    item: Seed | PoolAPI, gateway: LLMGateway, settings: ToolsetSettings | None = None
) -> Tool | RejectedTool:
    """A validated tool, or the rule and reason it was rejected. A seed's functions are written by
    the toolsmith; a pool API comes with its own (only its introduction is written).

    A failed LLM call (`LLMCallError`) propagates: it is not a property of the seed, so it must not
    become a result that is cached and reused; the flow records it as a rejection of this run.
    """
    settings = settings or ToolsetSettings()
    seed = as_seed(item)
    part: ToolRejectRule = "introduction"
    try:
        introduction = toolsmith.write_introduction(gateway, seed)
        part = "functions"
        if isinstance(item, PoolAPI):
            functions = item.functions
        else:
            functions = toolsmith.write_functions(gateway, seed, introduction, settings.max_functions)
    except StructuredOutputError as exc:
        return _reject(seed, part, str(exc))

    spec = openapi.compile_openapi(seed, introduction, functions)
    spec_text = json.dumps(spec, ensure_ascii=False)
    problems = spec_validator.spec_problems(spec, spec_text)
    if problems:
        return _reject(seed, "openapi", "invalid OpenAPI spec: " + "; ".join(problems))
    binary = non_textual_media(spec)
    if binary:
        return _reject(seed, "media", "not textual: " + "; ".join(binary))
    return Tool(
        tool_id=seed.seed_id,
        name=seed.name,
        category=seed.category,
        description=seed.description,
        link=seed.link,
        auth=seed.auth,
        introduction=introduction,
        functions=functions,
        openapi=spec_text,
        nl_documentation=nl_documentation(spec),
        routes=routes(spec),
        model=gateway.config.model_for(toolsmith.ROLE),
        origin="list" if isinstance(item, Seed) else "pool",
        taxonomy_path=[] if isinstance(item, Seed) else item.taxonomy_path,
        operators=[] if isinstance(item, Seed) else list(item.operators),
    )


TOOLSET: BatchStep[Seed | PoolAPI, Tool | RejectedTool] = BatchStep(
    "toolset", item_id=lambda item: item.seed_id, rejected=rejected_tool
)


@batch_task("build-tools", "tools-{seeds[0].seed_id}")
def build_tools_task(
    seeds: list[Seed | PoolAPI], settings: ToolsetSettings, llm: LLMConfig, run_id: str
) -> Batch[Seed | PoolAPI, Tool | RejectedTool]:
    """Prefect task: a batch of seeds through the toolset step, on the run's shared gateway."""
    gateway = gateway_for(llm, run_id)
    return TOOLSET.run(seeds, lambda seed: build_tool(seed, gateway, settings))
