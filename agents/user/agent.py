"""The user role: instructions written from a tool's documentation, and in-character replies."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

from agents.llm.gateway import LLMGateway, Tally
from agents.llm.prompts import PromptTemplate, load_prompt
from schemas.simulation import DraftInstruction, InstructionBatch, NonToolBatch, NonToolDraft, UserReply
from schemas.tool import Tool

ROLE = "user"
PROMPTS = Path(__file__).parent / "prompts"
PLACEHOLDER = re.compile(r"<[^<>]{1,40}>|\[[a-z _]{1,30}\]|\{[a-z_]{1,30}\}|\bX{3,}\b|\bYOUR_[A-Z_]+\b")


def instructions_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "instructions.txt")


def non_tool_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "non_tool.txt")


def reply_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "reply.txt")


def _requests_schema(count: int, function_names: list[str] | None) -> dict[str, Any]:
    """The batch's JSON schema: `count` requests, each naming the functions it needs (the tool's
    function names the only choices) unless `function_names` is None (requests that need none)."""
    properties: dict[str, Any] = {
        "text": {"type": "string", "minLength": 15, "maxLength": 600},
        "style": {"enum": ["command", "question", "story"]},
    }
    required = ["text", "style"]
    if function_names is not None:
        properties["functions"] = {
            "type": "array",
            "items": {"enum": function_names},
            "minItems": 1,
            "maxItems": 3,
        }
        required.append("functions")
    item = {"type": "object", "properties": properties, "required": required}
    batch = {"type": "array", "items": item, "minItems": count, "maxItems": count}
    return {"type": "object", "properties": {"instructions": batch}, "required": ["instructions"]}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """True when the two texts share at least `threshold` of their words (Jaccard)."""
    wa, wb = _words(a), _words(b)
    return bool(wa and wb) and len(wa & wb) / len(wa | wb) >= threshold


Draft = TypeVar("Draft", DraftInstruction, NonToolDraft)


def drop_near_duplicates(drafts: list[Draft]) -> list[Draft]:
    """The drafts in order, without any that nearly repeats an earlier one."""
    kept: list[Draft] = []
    for draft in drafts:
        if not any(near_duplicate(draft.text, k.text) for k in kept):
            kept.append(draft)
    return kept


Batch = TypeVar("Batch", InstructionBatch, NonToolBatch)


def _write_requests(
    gateway: LLMGateway, tool: Tool, count: int, stage: str, output: type[Batch], needs_functions: bool
) -> tuple[list[Any], list[Any]]:
    """Up to `count` distinct requests in the batch shape `output`, and the drafts dropped as
    near-duplicates of them (StructuredOutputError if none pass validation)."""
    names = [r.name for r in tool.routes]
    prompt = instructions_prompt() if needs_functions else non_tool_prompt()

    def check(batch: Batch) -> None:
        for i, draft in enumerate(batch.instructions):
            unknown = [f for f in getattr(draft, "functions", []) if f not in names]
            if unknown:
                raise ValueError(
                    f"instructions.{i}.functions: {unknown} are not functions of {tool.name}; "
                    f"choose from {names}"
                )
            found = PLACEHOLDER.search(draft.text)
            if found:
                raise ValueError(
                    f"instructions.{i}.text has the placeholder {found.group(0)!r}: "
                    "write a concrete, realistic value instead"
                )

    messages = prompt.render(
        count=count,
        name=tool.name,
        category=tool.category,
        description=tool.description,
        documentation=tool.nl_documentation,
    )
    batch = gateway.structured(
        stage=stage,
        role=ROLE,
        messages=messages,
        output=output,
        template=prompt.key,
        check=check,
        decoding_schema=_requests_schema(count, names if needs_functions else None),
        max_tokens=min(4096, 160 * count + 200),
    )
    kept = drop_near_duplicates(batch.instructions)
    return kept[:count], [draft for draft in batch.instructions if draft not in kept]


def write_instructions(
    gateway: LLMGateway, tool: Tool, count: int, stage: str
) -> tuple[list[DraftInstruction], list[DraftInstruction]]:
    """Up to `count` distinct requests the tool serves, each naming the functions it needs, and the
    drafts dropped as near-duplicates of them (StructuredOutputError if none pass validation)."""
    return _write_requests(gateway, tool, count, stage, InstructionBatch, needs_functions=True)


def write_non_tool_requests(
    gateway: LLMGateway, tool: Tool, count: int, stage: str
) -> tuple[list[NonToolDraft], list[NonToolDraft]]:
    """Up to `count` distinct requests the tool cannot serve (or that need no tool), and the drafts
    dropped as near-duplicates of them (StructuredOutputError if none pass validation)."""
    return _write_requests(gateway, tool, count, stage, NonToolBatch, needs_functions=False)


def answer_question(
    gateway: LLMGateway, tool: Tool, instruction: str, question: str, stage: str, tally: Tally | None = None
) -> str:
    """The user's in-character answer to a clarifying question."""
    prompt = reply_prompt()

    def concrete(reply: UserReply) -> None:
        found = PLACEHOLDER.search(reply.reply)
        if found:
            raise ValueError(
                f"the reply has the placeholder {found.group(0)!r}: give a concrete value instead"
            )

    messages = prompt.render(instruction=instruction, name=tool.name, question=question)
    answer = gateway.structured(
        stage=stage,
        role=ROLE,
        messages=messages,
        output=UserReply,
        template=prompt.key,
        check=concrete,
        max_tokens=300,
        tally=tally,
    )
    return answer.reply.strip()
