"""The toolsmith's work for the API pool: growing the taxonomy, writing an API for a part of it
(adaptation), and writing one change to an API (evolution). What each change is and how it is
applied is the pool's business (`tasks/pool/operators.py`); here is only how the LLM is asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from agents.llm.gateway import LLMGateway
from agents.llm.prompts import PromptTemplate, load_prompt
from agents.llm.structured import bounded, compact_schema
from schemas.pool import APIDraft, APISketch, NodeDraft, TaxonomyGrowth
from schemas.tool import FunctionCatalog, FunctionDoc

ROLE = "toolsmith"
STAGE = "pool"
PROMPTS = Path(__file__).parent / "prompts"
T = TypeVar("T", bound=BaseModel)


def taxonomy_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "taxonomy.txt")


def api_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "api.txt")


def evolve_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "evolve.txt")


def grow_children(
    gateway: LLMGateway, *, task: str, where: str, count: int, existing: Sequence[str]
) -> list[NodeDraft]:
    """Up to `count` new nodes (speciation): names distinct from each other and from `existing`
    (told back to the LLM until they are, else StructuredOutputError). Decoding allows no more than
    `count` of them, of 100 characters at most."""
    prompt = taxonomy_prompt()
    taken = {name.casefold() for name in existing}
    messages = prompt.render(
        task=task, count=count, existing=", ".join(existing) or "(none yet)", where=where
    )

    def distinct(growth: TaxonomyGrowth) -> None:
        if len(growth.children) > count:
            raise ValueError(f"give {count} names, not {len(growth.children)}")
        names = [child.name.strip().casefold() for child in growth.children]
        repeated = sorted({n for n in names if n in taken or names.count(n) > 1})
        if repeated:
            raise ValueError(f"these names exist already or are repeated: {', '.join(repeated)}")

    schema = bounded(compact_schema(TaxonomyGrowth), max_string=100, max_items=count)
    growth = gateway.structured(
        stage=STAGE,
        role=ROLE,
        messages=messages,
        output=TaxonomyGrowth,
        template=prompt.key,
        check=distinct,
        max_tokens=120 + 60 * count,
        decoding_schema=schema,
    )
    return growth.children


def sketch_text(sketch: APISketch) -> str:
    return f"- {sketch.name}: {sketch.description} Functions: {', '.join(sketch.functions)}."


def write_api(
    gateway: LLMGateway,
    *,
    domain: str,
    coarse: str,
    needs: Sequence[tuple[str, str]],
    examples: Sequence[APISketch],
    max_functions: int,
) -> APIDraft:
    """An API for a part of the taxonomy (adaptation), written unlike the `examples` shown."""
    prompt = api_prompt()
    shown = (
        "\nAPIs written before, which yours must not resemble (other names, other data, other functions):\n"
        + "\n".join(sketch_text(example) for example in examples)
        if examples
        else ""
    )
    messages = prompt.render(
        domain=domain,
        coarse=coarse,
        needs="\n".join(f"- {name}: {description}" for name, description in needs),
        max_functions=max_functions,
        examples=shown,
    )

    def fits(draft: APIDraft) -> None:
        if len(draft.functions) > max_functions:
            raise ValueError(f"give at most {max_functions} functions, not {len(draft.functions)}")
        FunctionCatalog(functions=draft.functions)  # distinct names and routes

    return gateway.structured(
        stage=STAGE,
        role=ROLE,
        messages=messages,
        output=APIDraft,
        template=prompt.key,
        check=fits,
        max_tokens=4096,
        decoding_schema=draft_schema(max_functions),
    )


DECODING_BOUNDS = {"max_string": 100, "max_items": 3}
"""Texts and lists of a written API, for decoding: a small model writes to the bound, and an API of
3 functions must fit its token budget (validation keeps the models' own bounds)."""


ERROR_STATUSES = [400, 401, 403, 404, 405, 409, 410, 422, 429, 500, 502, 503]
"""The HTTP errors a written function may name, for decoding (a grammar cannot hold a range)."""


def for_decoding(schema: dict[str, Any]) -> dict[str, Any]:
    """A written API's (or change's) schema for decoding: `DECODING_BOUNDS`, and an error's status
    one of `ERROR_STATUSES`."""
    schema = bounded(schema, **DECODING_BOUNDS)
    error = schema.get("$defs", {}).get("ErrorCase")
    if error is not None:
        error["properties"]["status"] = {"type": "integer", "enum": ERROR_STATUSES}
    return schema


def draft_schema(max_functions: int) -> dict[str, Any]:
    """APIDraft's schema for decoding (`for_decoding`), with `max_functions` functions."""
    schema = for_decoding(compact_schema(APIDraft))
    schema["properties"]["functions"]["maxItems"] = max_functions
    return schema


def functions_text(functions: Sequence[FunctionDoc]) -> str:
    """An API's functions as the evolution prompt shows them: route, inputs with their types and
    constraints, and what each returns."""
    lines = []
    for function in functions:
        inputs = ", ".join(_parameter_text(p.model_dump()) for p in function.parameters) or "no inputs"
        returns = ", ".join(f"{f.name} ({f.type})" for f in function.response_fields)
        lines.append(f"- {function.name} ({function.method} {function.path}): {inputs}; returns {returns}")
    return "\n".join(lines)


def _parameter_text(param: dict[str, Any]) -> str:
    kind = param["type"] + (f" of {param['items_type']}" if param.get("items_type") else "")
    extras = [
        f"one of {'/'.join(param['enum'])}" if param.get("enum") else "",
        f"min {param['minimum']:g}" if param.get("minimum") is not None else "",
        f"max {param['maximum']:g}" if param.get("maximum") is not None else "",
        f"format {param['format']}" if param.get("format") else "",
        f"default {param['default']}" if param.get("default") is not None else "",
        "with " + "/".join(p["name"] for p in param["properties"]) if param.get("properties") else "",
    ]
    shown = "; ".join(e for e in extras if e)
    return f"{param['name']} ({param['location']} {kind}{'; ' + shown if shown else ''})"


def write_change(
    gateway: LLMGateway,
    *,
    name: str,
    description: str,
    functions: Sequence[FunctionDoc],
    instruction: str,
    output: type[T],
    decoding_schema: dict[str, Any],
    check: Callable[[T], None],
) -> T:
    """One change to an API (evolution), as `output`; `check` refuses a change that cannot be applied
    (its reason is told back to the LLM)."""
    prompt = evolve_prompt()
    messages = prompt.render(
        name=name, description=description, functions=functions_text(functions), operator=instruction
    )
    return gateway.structured(
        stage=STAGE,
        role=ROLE,
        messages=messages,
        output=output,
        template=prompt.key,
        check=check,
        max_tokens=3072,
        decoding_schema=decoding_schema,
    )
