"""The user role: requests written from a tool's documentation, one prompt per dialogue type (the
table `REQUESTS`), in-character replies to clarifying questions, and follow-up requests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agents.llm.gateway import LLMGateway, Tally
from agents.llm.prompts import PromptTemplate, load_lines, load_prompt
from agents.llm.structured import bounded, compact_schema
from schemas.dialog import DialogType, Message
from schemas.grounding import PLACEHOLDER
from schemas.react import react_turns
from schemas.similarity import near_duplicate
from schemas.simulation import (
    Complexity,
    DraftInstruction,
    FollowUp,
    InstructionBatch,
    NonToolBatch,
    NonToolDraft,
    UserReply,
)
from schemas.tool import Tool

ROLE = "user"
PROMPTS = Path(__file__).parent / "prompts"
SHORT_ANSWER_TOKENS = 600
"""A reply or a follow-up: decoded to at most 200 characters (`bounded`), with room for the escapes a
small model writes (each \\u sequence is several tokens): cut shorter, the embedded model's answers
were refused as incomplete."""


@dataclass(frozen=True)
class Requests:
    """How the user agent writes the requests of one dialogue type."""

    prompt: str
    """The template file in `prompts/`."""
    min_functions: int | None
    """Functions each request names, at least (None: it names none)."""


REQUESTS: dict[DialogType, Requests] = {
    "single": Requests("instructions.txt", 1),
    "parallel": Requests("parallel.txt", 2),
    "dependent": Requests("dependent.txt", 2),
    "non_tool": Requests("non_tool.txt", None),
    "multi_turn": Requests("multi_turn.txt", 1),
}


def requests_prompt(dialog_type: DialogType) -> PromptTemplate:
    return load_prompt(PROMPTS / REQUESTS[dialog_type].prompt)


def reply_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "reply.txt")


def follow_up_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "follow_up.txt")


def _requests_schema(count: int, function_names: list[str] | None, min_functions: int = 1) -> dict[str, Any]:
    """The batch's JSON schema: `count` requests, each naming the `min_functions` or more functions
    it needs (the tool's function names the only choices) unless `function_names` is None (requests
    that need none)."""
    properties: dict[str, Any] = {
        "text": {"type": "string", "minLength": 15, "maxLength": 600},
        "style": {"enum": ["command", "question", "story"]},
    }
    required = ["text", "style"]
    if function_names is not None:
        properties["functions"] = {
            "type": "array",
            "items": {"enum": function_names},
            "minItems": min_functions,
            "maxItems": 3,
        }
        required.append("functions")
    item = {"type": "object", "properties": properties, "required": required}
    batch = {"type": "array", "items": item, "minItems": count, "maxItems": count}
    return {"type": "object", "properties": {"instructions": batch}, "required": ["instructions"]}


def refuse_placeholders(text: str, what: str) -> None:
    """ValueError (fed back to the model) when `text` holds a placeholder such as <id>."""
    if found := PLACEHOLDER.search(text):
        raise ValueError(f"{what} has the placeholder {found.group(0)!r}: write a concrete, realistic value")


Draft = TypeVar("Draft", DraftInstruction, NonToolDraft)


def drop_near_duplicates(drafts: list[Draft]) -> list[Draft]:
    """The drafts in order, without any that nearly repeats an earlier one."""
    kept: list[Draft] = []
    for draft in drafts:
        if not any(near_duplicate(draft.text, k.text) for k in kept):
            kept.append(draft)
    return kept


def write_requests(
    gateway: LLMGateway,
    tool: Tool,
    dialog_type: DialogType,
    count: int,
    stage: str,
    complexity: Complexity = "mixed",
) -> tuple[list[DraftInstruction] | list[NonToolDraft], list[DraftInstruction] | list[NonToolDraft]]:
    """Up to `count` distinct requests for dialogues of `dialog_type`, steered towards `complexity`
    (`prompts/complexity.txt`), and the drafts dropped as near-duplicates of them
    (StructuredOutputError if none pass validation). A request names the
    functions it needs, unless its type needs none (`non_tool`)."""
    kind = REQUESTS[dialog_type]
    names = [r.name for r in tool.routes]
    prompt = requests_prompt(dialog_type)
    output: type[InstructionBatch] | type[NonToolBatch] = (
        NonToolBatch if kind.min_functions is None else InstructionBatch
    )

    def check(batch: InstructionBatch | NonToolBatch) -> None:
        for i, draft in enumerate(batch.instructions):
            needed = getattr(draft, "functions", [])
            if kind.min_functions and len(needed) < kind.min_functions:
                raise ValueError(
                    f"instructions.{i}.functions: a {dialog_type} request needs at least "
                    f"{kind.min_functions} calls; it names {len(needed)}"
                )
            unknown = [f for f in needed if f not in names]
            if unknown:
                raise ValueError(
                    f"instructions.{i}.functions: {unknown} are not functions of {tool.name}; "
                    f"choose from {names}"
                )
            refuse_placeholders(draft.text, f"instructions.{i}.text")

    messages = prompt.render(
        count=count,
        complexity=load_lines(PROMPTS / "complexity.txt").get(complexity, ""),
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
        decoding_schema=_requests_schema(
            count, None if kind.min_functions is None else names, kind.min_functions or 1
        ),
        max_tokens=min(4096, 160 * count + 200),
    )
    kept = drop_near_duplicates(batch.instructions)
    return kept[:count], [draft for draft in batch.instructions if draft not in kept]


def answer_question(
    gateway: LLMGateway, tool: Tool, instruction: str, question: str, stage: str, tally: Tally | None = None
) -> str:
    """The user's in-character answer to a clarifying question."""
    prompt = reply_prompt()
    messages = prompt.render(instruction=instruction, name=tool.name, question=question)
    answer = _short_answer(gateway, stage, prompt, messages, UserReply, "the reply", tally)
    return answer.reply.strip()


def follow_up(
    gateway: LLMGateway, tool: Tool, messages: list[Message], stage: str, tally: Tally | None = None
) -> str:
    """The user's next request in a multi-turn dialogue, building on the conversation so far (what
    the user saw of it: the requests and the final answers)."""
    prompt = follow_up_prompt()
    conversation = "\n".join(
        f"You: {turn.request}\nAssistant: {turn.final_answer or ''}" for turn in react_turns(messages)
    )
    request = prompt.render(name=tool.name, documentation=tool.nl_documentation, conversation=conversation)
    answer = _short_answer(gateway, stage, prompt, request, FollowUp, "the request", tally)
    return answer.text.strip()


Short = TypeVar("Short", UserReply, FollowUp)


def _short_answer(
    gateway: LLMGateway,
    stage: str,
    prompt: PromptTemplate,
    messages: list[dict[str, str]],
    output: type[Short],
    what: str,
    tally: Tally | None,
) -> Short:
    """A short answer of the user (a reply, a follow-up: `what`, in the feedback on a placeholder),
    bounded for decoding, with no placeholder in its one text field."""
    (field,) = output.model_fields

    return gateway.structured(
        stage=stage,
        role=ROLE,
        messages=messages,
        output=output,
        template=prompt.key,
        decoding_schema=bounded(compact_schema(output)),
        check=lambda answer: refuse_placeholders(getattr(answer, field), what),
        max_tokens=SHORT_ANSWER_TOKENS,
        tally=tally,
    )
