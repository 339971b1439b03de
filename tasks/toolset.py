"""Toolset construction for one seed: introduction -> function docs -> OpenAPI spec -> NL docs.

`build_tool` is the plain function (tests call it directly); `build_tool_task` is its Prefect task,
retried on transient LLM errors and cached across runs by `tool_cache_key`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prefect import task
from prefect.context import TaskRunContext
from pydantic import BaseModel, Field

from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMCallError, LLMGateway, StructuredOutputError, gateway_for
from agents.toolsmith import agent as toolsmith
from schemas.seed import Seed
from schemas.tool import RejectedTool, RejectStage, Tool
from tasks import openapi
from tasks.code_version import source_hash


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

    Transient LLM failures (after the gateway's retries) propagate, so the task can be retried.
    """
    settings = settings or ToolsetSettings()
    stage: RejectStage = "introduction"
    try:
        introduction = toolsmith.write_introduction(gateway, seed)
        stage = "functions"
        functions = toolsmith.write_functions(gateway, seed, introduction, settings.max_functions)
    except StructuredOutputError as exc:
        return _reject(seed, stage, str(exc))
    except LLMCallError as exc:
        if exc.transient:
            raise
        return _reject(seed, "llm", str(exc))

    spec = openapi.compile_openapi(seed, introduction, functions)
    problems = openapi.spec_problems(spec)
    if problems:
        return _reject(seed, "openapi", "invalid OpenAPI spec: " + "; ".join(problems))
    binary = openapi.non_textual_media(spec)
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
        nl_documentation=openapi.nl_documentation(spec),
        routes=openapi.routes(spec),
        model=gateway.config.model_for(toolsmith.ROLE),
    )


def answer_settings(llm: LLMConfig) -> dict[str, Any]:
    """The LLM settings that can change an answer (not concurrency, timeouts or where the cache is)."""
    return llm.model_dump(
        include={
            "model",
            "role_models",
            "api_base",
            "temperature",
            "max_tokens",
            "seed",
            "repair_attempts",
            "structured_output",
        }
    ) | {"api_base": llm.public_dump()["api_base"]}


def tool_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str | None:
    """Reuse a tool across runs when the seed, settings, model settings, prompts and code are unchanged."""
    llm: LLMConfig = parameters["llm"]
    if not llm.use_cache:
        return None
    seed: Seed = parameters["seed"]
    material = {
        "seed": seed.model_dump(exclude={"source", "line"}),
        "settings": parameters["settings"].model_dump(),
        "llm": answer_settings(llm),
        "prompts": [toolsmith.introduction_prompt().key, toolsmith.functions_prompt().key],
        "code": source_hash("tasks/toolset.py", "tasks/openapi.py", "schemas/tool.py", "agents"),
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()
    return f"toolforge-tool-{digest}"


@task(
    name="build-tool",
    task_run_name="tool-{seed.seed_id}",
    retries=2,
    retry_delay_seconds=2,
    cache_key_fn=tool_cache_key,
    persist_result=True,
)
def build_tool_task(
    seed: Seed, settings: ToolsetSettings, llm: LLMConfig, run_id: str
) -> Tool | RejectedTool:
    """Prefect task: one seed through the toolset stage, on the run's shared gateway."""
    return build_tool(seed, gateway_for(llm, run_id), settings)


def result_storage(llm: LLMConfig) -> Path:
    """Where Prefect keeps task results between runs: beside the LLM cache."""
    return Path(llm.cache_dir).expanduser() / "prefect-results"
