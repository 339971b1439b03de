"""The toolset step: a seed becomes a tool (introduction -> function docs -> OpenAPI spec -> NL docs)
or a rejection naming the stage that refused it.

`build_tool` is the plain function for one seed (tests call it directly); `build_tools_task` is the
Prefect task over a batch of seeds (`tasks/batch.py` says how a batch fails and retries).
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway, StructuredOutputError, gateway_for
from agents.toolsmith import agent as toolsmith
from schemas.pool import PoolAPI
from schemas.seed import Seed
from schemas.spec import nl_documentation, non_textual_media, routes
from schemas.tool import RejectedTool, RejectStage, Tool
from tasks import openapi, spec_validator
from tasks.batch import Batch, batch_task, run_batch

ROLES = (toolsmith.ROLE,)
"""The model roles the toolset stage calls."""


class ToolsetSettings(BaseModel):
    """Knobs of the toolset stage."""

    max_functions: int = Field(default=3, ge=1, le=5, description="Functions documented per tool.")


def _reject(item: Seed | PoolAPI, stage: RejectStage, reason: str) -> RejectedTool:
    seed = as_seed(item)
    return RejectedTool(
        tool_id=seed.seed_id, name=seed.name, category=seed.category, stage=stage, reason=reason
    )


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
    """A validated tool, or the stage and reason it was rejected. A seed's functions are written by
    the toolsmith; a pool API comes with its own (only its introduction is written).

    A failed LLM call (`LLMCallError`) propagates: it is not a property of the seed, so it must not
    become a result that is cached and reused; the flow records it as a rejection of this run.
    """
    settings = settings or ToolsetSettings()
    seed = as_seed(item)
    stage: RejectStage = "introduction"
    try:
        introduction = toolsmith.write_introduction(gateway, seed)
        stage = "functions"
        if isinstance(item, PoolAPI):
            functions = item.functions
        else:
            functions = toolsmith.write_functions(gateway, seed, introduction, settings.max_functions)
    except StructuredOutputError as exc:
        return _reject(seed, stage, str(exc))

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


def failed_tool(seed: Seed | PoolAPI, reason: str, llm_failed: bool) -> RejectedTool:
    """The rejection of a seed whose work raised: an LLM call that failed for good, or the code."""
    return _reject(seed, "llm" if llm_failed else "task", reason)


def build_tools(
    seeds: list[Seed | PoolAPI], gateway: LLMGateway, settings: ToolsetSettings
) -> Batch[Seed | PoolAPI, Tool | RejectedTool]:
    """`build_tool` over a batch of seeds, one outcome each."""
    return run_batch(seeds, lambda seed: build_tool(seed, gateway, settings), failed_tool)


@batch_task("build-tools", "tools-{seeds[0].seed_id}")
def build_tools_task(
    seeds: list[Seed | PoolAPI], settings: ToolsetSettings, llm: LLMConfig, run_id: str
) -> Batch[Seed | PoolAPI, Tool | RejectedTool]:
    """Prefect task: a batch of seeds through the toolset step, on the run's shared gateway."""
    return build_tools(seeds, gateway_for(llm, run_id), settings)
