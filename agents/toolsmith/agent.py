"""The toolsmith role: an introduction and function documentation for one seed, from the LLM."""

from __future__ import annotations

from pathlib import Path

from agents.llm.gateway import LLMGateway
from agents.llm.prompts import PromptTemplate, load_prompt
from schemas.seed import Seed
from schemas.tool import FunctionCatalog, FunctionDoc, Introduction

ROLE = "toolsmith"
STAGE = "toolset"
PROMPTS = Path(__file__).parent / "prompts"


def introduction_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "introduction.txt")


def functions_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "functions.txt")


def write_introduction(gateway: LLMGateway, seed: Seed) -> str:
    """A paragraph on what the API offers (StructuredOutputError if none passes validation)."""
    prompt = introduction_prompt()
    messages = prompt.render(
        name=seed.name,
        category=seed.category,
        description=seed.description,
        link=seed.link or "(none)",
        auth=seed.auth or "none",
    )
    answer = gateway.structured(
        stage=STAGE, role=ROLE, messages=messages, output=Introduction, template=prompt.key, max_tokens=400
    )
    return answer.introduction.strip()


def write_functions(
    gateway: LLMGateway, seed: Seed, introduction: str, max_functions: int
) -> list[FunctionDoc]:
    """Structured documentation of up to `max_functions` functions."""
    prompt = functions_prompt()
    messages = prompt.render(
        name=seed.name,
        category=seed.category,
        description=seed.description,
        introduction=introduction,
        max_functions=max_functions,
    )

    def at_most(catalog: FunctionCatalog) -> None:
        if len(catalog.functions) > max_functions:
            raise ValueError(f"give at most {max_functions} functions, not {len(catalog.functions)}")

    catalog = gateway.structured(
        stage=STAGE,
        role=ROLE,
        messages=messages,
        output=FunctionCatalog,
        template=prompt.key,
        check=at_most,
        max_tokens=2048,
    )
    return catalog.functions
