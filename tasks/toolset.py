"""Toolset construction for one seed: introduction -> function docs -> OpenAPI spec -> NL docs.

`build_tool` is the plain function (tests call it directly); `build_tool_task` is its Prefect task,
retried on transient LLM errors and cached across runs by `tool_cache_key`.
"""

from __future__ import annotations

import json
from typing import Any

from prefect.context import TaskRunContext
from pydantic import BaseModel, Field

from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway, StructuredOutputError, gateway_for
from agents.toolsmith import agent as toolsmith
from schemas.seed import Seed
from schemas.spec import nl_documentation, non_textual_media, routes
from schemas.tool import RejectedTool, RejectStage, Tool
from tasks import openapi, spec_validator
from tasks.caching import llm_task, task_cache_key

ROLES = (toolsmith.ROLE,)
"""The model roles the toolset stage calls."""


class ToolsetSettings(BaseModel):
    """Knobs of the toolset stage."""

    max_functions: int = Field(default=3, ge=1, le=5, description="Functions documented per tool.")


def _reject(seed: Seed, stage: RejectStage, reason: str) -> RejectedTool:
    return RejectedTool(
        tool_id=seed.seed_id, name=seed.name, category=seed.category, stage=stage, reason=reason
    )


def build_tool(
    seed: Seed, gateway: LLMGateway, settings: ToolsetSettings | None = None
) -> Tool | RejectedTool:
    """A validated tool, or the stage and reason it was rejected.

    A failed LLM call (`LLMCallError`) propagates: it is not a property of the seed, so it must not
    become a result that is cached and reused; the flow records it as a rejection of this run.
    """
    settings = settings or ToolsetSettings()
    stage: RejectStage = "introduction"
    try:
        introduction = toolsmith.write_introduction(gateway, seed)
        stage = "functions"
        functions = toolsmith.write_functions(gateway, seed, introduction, settings.max_functions)
    except StructuredOutputError as exc:
        return _reject(seed, stage, str(exc))

    spec = openapi.compile_openapi(seed, introduction, functions)
    problems = spec_validator.spec_problems(spec)
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
        openapi=json.dumps(spec, ensure_ascii=False),
        nl_documentation=nl_documentation(spec),
        routes=routes(spec),
        model=gateway.config.model_for(toolsmith.ROLE),
    )


def tool_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
    """Reuse a tool across runs when the seed, settings, model settings, prompts and code are unchanged."""
    seed: Seed = parameters["seed"]
    inputs = {
        "seed": seed.model_dump(exclude={"source", "line"}),
        "settings": parameters["settings"].model_dump(),
    }
    prompts = [toolsmith.introduction_prompt().key, toolsmith.functions_prompt().key]
    return task_cache_key("tool", parameters["llm"], inputs, prompts)


@llm_task("build-tool", "tool-{seed.seed_id}", tool_cache_key)
def build_tool_task(
    seed: Seed, settings: ToolsetSettings, llm: LLMConfig, run_id: str
) -> Tool | RejectedTool:
    """Prefect task: one seed through the toolset stage, on the run's shared gateway."""
    return build_tool(seed, gateway_for(llm, run_id), settings)
