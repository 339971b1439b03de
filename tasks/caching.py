"""Cache keys and retry rules for Prefect tasks.

A task's result is reused across runs when nothing that could change it has changed: its inputs,
the answer-relevant LLM settings, the prompts and the code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prefect import task

from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMCallError
from tasks.code_version import source_hash

ANSWER_SETTINGS = {
    "model",
    "role_models",
    "temperature",
    "max_tokens",
    "seed",
    "repair_attempts",
    "structured_output",
}


def answer_settings(llm: LLMConfig) -> dict[str, Any]:
    """The LLM settings that can change an answer (not concurrency, timeouts or where the cache is)."""
    return llm.model_dump(include=ANSWER_SETTINGS | {"api_base"})


def task_cache_key(kind: str, llm: LLMConfig, inputs: dict[str, Any], prompts: list[str]) -> str | None:
    """`toolforge-<kind>-<sha256>`, or None (no reuse) when the run asked for no cache."""
    if not llm.use_cache:
        return None
    material = {
        "inputs": inputs,
        "llm": answer_settings(llm),
        "prompts": prompts,
        "code": source_hash("agents", "tasks", "schemas"),
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()
    return f"toolforge-{kind}-{digest}"


def result_storage(llm: LLMConfig) -> Path:
    """Where Prefect keeps task results between runs: beside the LLM cache."""
    return Path(llm.cache_dir).expanduser() / "prefect-results"


def retry_unless_permanent(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry a failed task unless an LLM call failed for good (bad key...)."""
    exc = state.result(raise_on_failure=False)
    return not (isinstance(exc, LLMCallError) and not exc.transient)


def llm_task(name: str, run_name: str, cache_key_fn: Any) -> Any:
    """The Prefect task policy of every LLM stage: two retries (not for a permanent LLM failure), and
    results persisted and reused across runs under `cache_key_fn`."""
    return task(
        name=name,
        task_run_name=run_name,
        retries=2,
        retry_delay_seconds=2,
        retry_condition_fn=retry_unless_permanent,
        cache_key_fn=cache_key_fn,
        persist_result=True,
    )
