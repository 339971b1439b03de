"""The instruction and simulation steps: instructions for a tool, then one dialogue per instruction.

`write_instructions` and `simulate` are plain functions (tests call them directly); the tasks below
run them over a batch (several tools; one tool's instructions) for Prefect (`tasks/batch.py` says how
a batch fails and retries). The simulation only simulates: it records how each dialogue ended, and
the checks step (`tasks/checks.py`) decides what to keep.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from agents.assistant import agent as assistant
from agents.executor.agent import ROLE as EXECUTOR_ROLE
from agents.executor.agent import ToolExecutor
from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway, StructuredOutputError, Tally, gateway_for
from agents.user import agent as user
from schemas.complexity import band, complexity_score, dependency_depth
from schemas.dialog import (
    Dialog,
    DialogType,
    Ending,
    Message,
    ToolCall,
    tool_message,
    user_turns,
)
from schemas.dialog_shape import unfit_tool
from schemas.option import Option
from schemas.react import react_turns, step_count
from schemas.rejection import Rejection
from schemas.seed import Seed
from schemas.simulation import ASK_USER, FINISH, AssistantCalls, Complexity, Instruction
from schemas.spec import function_tools
from schemas.tool import Tool
from tasks.batch import Batch, BatchStep, batch_task
from tasks.toolset import ToolsetSettings, build_tool

INSTRUCTIONS_STAGE = "instructions"
SIMULATION_STAGE = "simulation"
INSTRUCTION_ROLES = (user.ROLE,)
"""The model roles the instruction stage calls."""
SIMULATION_ROLES = (assistant.ROLE, user.ROLE, EXECUTOR_ROLE)
"""The model roles the simulation calls."""


DEFAULT_MIX: dict[DialogType, float] = {
    "single": 0.3,
    "parallel": 0.2,
    "dependent": 0.2,
    "non_tool": 0.1,
    "multi_turn": 0.2,
}


class SimulationSettings(BaseModel):
    """Knobs of the instruction and simulation stages."""

    instructions_per_tool: int = Field(
        default=10, ge=1, le=20, description="Instructions the user agent writes per tool."
    )
    max_steps: int = Field(default=5, ge=1, le=20, description="Actions allowed per user request.")
    assistant_calls: AssistantCalls = Field(
        default="structured",
        description="structured: schema-constrained ReAct steps (every model); native: the model's own "
        "function calling (tools=), for models that have it.",
    )
    complexity: Complexity = Field(
        default="mixed",
        description="The band instructions are steered towards (easy, medium, hard) by the user agent's "
        "prompt, the follow-ups of a multi_turn dialogue (2, 3, 4) and the tools offered (1, "
        "tools_per_dialog, at least 3); mixed steers none (each dialogue's score is kept all the same).",
    )
    tools_per_dialog: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Tools whose functions a dialogue offers: the one its request was written for and "
        "others of its category, so the assistant must choose (BFCL's multiple).",
    )
    dialog_mix: Annotated[dict[DialogType, float], Option(metavar="TYPE=SHARE,...")] = Field(
        default_factory=lambda: dict(DEFAULT_MIX),
        description="The share of each dialogue type among a tool's instructions: single (a request one "
        "call serves), parallel (several calls in one message), dependent (a call taking a value from an "
        "earlier result), non_tool (a request answered without a call), multi_turn (2 to 4 follow-ups); "
        "single=1 makes ToolAlpaca's dialogues only. A share that is not a whole number of a tool's "
        "instructions rounds up for some tools and down for others (`counts`).",
    )

    @field_validator("dialog_mix")
    @classmethod
    def _shares(cls, mix: dict[DialogType, float]) -> dict[DialogType, float]:
        if any(share < 0 for share in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError(f"dialog mix {mix}: shares must be at least 0, and one above 0")
        return {kind: share for kind, share in mix.items() if share > 0}

    def counts(self, tool_id: str) -> dict[DialogType, int]:
        """One tool's instructions of each type: `instructions_per_tool` split by the mix's shares.

        A share that is not a whole number of instructions is rounded down or up for each tool, the
        tool's id deciding which (systematic sampling from an offset hashed from the id: the same
        tool always gets the same counts). The counts add up exactly, each is its share rounded one
        way or the other, and over a corpus each type's share of the instructions is the mix's at
        any count per tool. (Rounding every tool the same way would give the same types the extra
        instruction every time, and never ask for a type whose share is under one: at 4 per tool,
        the default mix's non_tool.) Whole shares, as the default mix at 10 per tool, are exact.
        """
        weights = {kind: Fraction(share).limit_denominator(10**6) for kind, share in self.dialog_mix.items()}
        scale = self.instructions_per_tool / sum(weights.values())
        offset = Fraction(int(hashlib.sha256(tool_id.encode()).hexdigest()[:12], 16), 16**12)
        counts: dict[DialogType, int] = {}
        share_so_far, before = Fraction(0), 0
        for kind, weight in weights.items():
            share_so_far += weight
            upto = math.floor(share_so_far * scale + offset)
            counts[kind], before = upto - before, upto
        return {kind: count for kind, count in counts.items() if count}


class ToolInstructions(BaseModel):
    """The instructions written for one tool, or why there are none (`rejection`: step `instructions`,
    rule `no_instructions`, `llm_error` or `task_failed`)."""

    tool_id: str
    instructions: list[Instruction]
    rejection: Rejection | None = None
    shortfall: str = Field(default="", description="Why there are fewer than asked for, if there are.")


def write_instructions(tool: Tool, gateway: LLMGateway, settings: SimulationSettings) -> ToolInstructions:
    """The user agent's instructions for one tool, of each dialogue type its share of the mix, with
    stable ids `<tool_id>-<n>` (the types in the mix's order)."""
    instructions: list[Instruction] = []
    problems: list[str] = []
    shortfalls: list[str] = []
    spec = json.loads(tool.openapi)
    for kind, count in settings.counts(tool.tool_id).items():
        if unfit := unfit_tool(kind, spec):
            shortfalls.append(f"0 of {count} {kind} instructions: {unfit}")
            continue
        try:
            drafts, repeats = user.write_requests(
                gateway, tool, kind, count, INSTRUCTIONS_STAGE, settings.complexity
            )
        except StructuredOutputError as exc:
            problems.append(f"user ({kind}): {exc}")
            shortfalls.append(f"0 of {count} {kind} instructions: {exc}")
            continue
        for draft in drafts:
            instruction_id = f"{tool.tool_id}-{len(instructions) + 1}"
            instructions.append(
                Instruction(
                    instruction_id=instruction_id,
                    tool_id=tool.tool_id,
                    dialog_type=kind,
                    text=draft.text.strip(),
                    style=draft.style,
                    functions=getattr(draft, "functions", []),
                    follow_ups=follow_ups(instruction_id, settings.complexity) if kind == "multi_turn" else 0,
                    complexity=settings.complexity,
                )
            )
        if len(drafts) < count:
            shortfall = f"{len(drafts)} of {count} {kind} instructions"
            if repeats:
                shortfall += "; dropped as near-duplicates: " + "; ".join(repr(d.text[:80]) for d in repeats)
            shortfalls.append(shortfall)
    if not instructions:
        rejection = Rejection(
            item_id=tool.tool_id, step="instructions", rule="no_instructions", reason="; ".join(problems)
        )
        return ToolInstructions(tool_id=tool.tool_id, instructions=[], rejection=rejection)
    return ToolInstructions(tool_id=tool.tool_id, instructions=instructions, shortfall="; ".join(shortfalls))


FOLLOW_UPS = {"easy": 2, "medium": 3, "hard": 4}
OFFERED_WHEN_HARD = 3
"""Tools a dialogue steered hard offers, at least."""


def follow_ups(instruction_id: str, complexity: Complexity = "mixed") -> int:
    """The follow-up requests of a multi-turn dialogue: 2, 3 or 4 by the band it is steered towards,
    else drawn from its id (stable across runs)."""
    if complexity in FOLLOW_UPS:
        return FOLLOW_UPS[complexity]
    return 2 + int(hashlib.sha256(instruction_id.encode()).hexdigest()[:8], 16) % 3


def tools_offered(settings: SimulationSettings, instruction: Instruction) -> int:
    """Tools a dialogue offers: `tools_per_dialog`; 1 when steered easy, at least 3 when hard."""
    if instruction.complexity == "easy":
        return 1
    if instruction.complexity == "hard":
        return max(OFFERED_WHEN_HARD, settings.tools_per_dialog)
    return settings.tools_per_dialog


@functools.lru_cache(maxsize=64)
def offered_tools(*openapis: str) -> str:
    """The functions of the tools (their specs) as OpenAI `tools` (JSON text), made once per set of
    tools: every dialogue of a tool alone offers the same."""
    functions = [f for openapi in openapis for f in function_tools(json.loads(openapi))]
    return json.dumps(functions, ensure_ascii=False)


class _Dialogue:
    """The state of one simulated dialogue while it runs."""

    def __init__(self, tool: Tool, instruction: Instruction, others: Sequence[Tool] = ()) -> None:
        self.tool, self.instruction = tool, instruction
        self.tools = [tool, *others]
        self.messages: list[Message] = [Message(role="user", content=instruction.text)]
        self.tally = Tally()

    def call(self, thought: str, planned: list[tuple[str, dict[str, Any]]]) -> list[ToolCall]:
        """An assistant message with these function calls (name, arguments); the calls, for their
        answers."""
        made = sum(len(m.tool_calls) for m in self.messages)
        calls = [
            ToolCall(id=f"call_{made + n}", name=name, arguments=json.dumps(arguments, ensure_ascii=False))
            for n, (name, arguments) in enumerate(planned, 1)
        ]
        self.messages.append(Message(role="assistant", thought=thought, tool_calls=calls))
        return calls

    def answer(self, final_answer: str, thought: str) -> None:
        """The assistant's answer to the current request, before a follow-up."""
        self.messages.append(Message(role="assistant", content=final_answer, thought=thought))

    def current_request(self) -> str:
        return react_turns(self.messages)[-1].request

    def follow_ups_left(self) -> int:
        return self.instruction.follow_ups - (user_turns(self.messages) - 1)

    def finish(
        self, final_answer: str = "", ending: Ending = "final_answer", detail: str = "", thought: str = ""
    ) -> Dialog:
        """The simulated dialogue, status `simulated`: the checks step decides. A final answer is the
        last assistant message (with the thought that led to it)."""
        messages = list(self.messages)
        if ending == "final_answer":
            messages.append(Message(role="assistant", content=final_answer, thought=thought))
        offered = sum(len(t.routes) for t in self.tools)
        score = complexity_score(messages, offered)
        return Dialog(
            dialog_id=self.instruction.instruction_id,
            tool_id=self.tool.tool_id,
            dialog_type=self.instruction.dialog_type,
            instruction=self.instruction.text,
            messages=messages,
            tools=offered_tools(*(t.openapi for t in self.tools)),
            tool_ids=[t.tool_id for t in self.tools],
            final_answer=final_answer,
            **Dialog.counted(messages),
            functions_offered=offered,
            dependency_depth=dependency_depth(messages),
            complexity=score,
            complexity_band=band(score),
            llm_calls=self.tally.calls,
            prompt_tokens=self.tally.prompt_tokens,
            completion_tokens=self.tally.completion_tokens,
            ending=ending,
            ending_detail=detail,
            status="simulated",
        )


def simulate(
    tool: Tool,
    instruction: Instruction,
    gateway: LLMGateway,
    settings: SimulationSettings,
    others: Sequence[Tool] = (),
) -> Dialog:
    """User, assistant and tool executor play out one instruction (and, in a multi-turn dialogue, the
    user's follow-ups), until the assistant's last final answer, its wish for more actions on one
    request than `max_steps` allow, or an answer of a role that no repair made usable; the dialogue
    records which (`ending`). Every call of a parallel message is answered, in order, by the executor
    of the tool the function belongs to (`others`: tools offered beside the one the request was
    written for). A failed LLM call propagates.
    """
    dialogue = _Dialogue(tool, instruction, others)
    specs = [json.loads(t.openapi) for t in dialogue.tools]
    by_tool = [(t, ToolExecutor(t, gateway)) for t in dialogue.tools]
    executors = {route.name: executor for t, executor in reversed(by_tool) for route in t.routes}
    role = assistant.ROLE
    try:
        while True:
            role = assistant.ROLE
            turn = assistant.next_turn(
                gateway,
                dialogue.tools,
                specs,
                dialogue.messages,
                max_steps=settings.max_steps,
                stage=SIMULATION_STAGE,
                tally=dialogue.tally,
                dialog_type=instruction.dialog_type,
                calls=settings.assistant_calls,
            )
            if turn.action == FINISH and dialogue.follow_ups_left() > 0:
                role = user.ROLE
                dialogue.answer(turn.final_answer.strip(), turn.thought)
                request = user.follow_up(gateway, tool, dialogue.messages, SIMULATION_STAGE, dialogue.tally)
                dialogue.messages.append(Message(role="user", content=request))
                continue
            if turn.action == FINISH:
                return dialogue.finish(turn.final_answer.strip(), thought=turn.thought)
            planned = turn.planned_calls()
            steps = step_count(dialogue.messages)
            if steps + len(planned) > settings.max_steps:
                wanted = "an action" if len(planned) == 1 else f"{len(planned)} calls"
                return dialogue.finish(
                    ending="step_limit",
                    detail=f"the assistant wanted {wanted} after {steps} steps "
                    f"(at most {settings.max_steps} allowed)",
                )
            if turn.action == ASK_USER:
                role = user.ROLE
                question = str(turn.action_input.get("Question", ""))
                dialogue.messages.append(
                    Message(role="assistant", content=question, thought=turn.thought, clarification=True)
                )
                reply = user.answer_question(
                    gateway, tool, dialogue.current_request(), question, SIMULATION_STAGE, dialogue.tally
                )
                dialogue.messages.append(Message(role="user", content=reply, clarification=True))
                continue
            role = EXECUTOR_ROLE
            for call in dialogue.call(turn.thought, planned):
                executor = executors.get(call.name) or executors[tool.routes[0].name]  # it refuses the name
                answer = executor.execute(call.name, json.loads(call.arguments), tally=dialogue.tally)
                dialogue.messages.append(tool_message(call, answer.status_code, answer.body))
    except StructuredOutputError as exc:
        ending: Ending = "executor_unusable" if role == EXECUTOR_ROLE else "assistant_unusable"
        return dialogue.finish(ending=ending, detail=f"{role}: {exc}")
    except assistant.NoMoveLeft as exc:
        return dialogue.finish(ending="no_move_left", detail=str(exc))


def rejected_dialog(tool: Tool, instruction: Instruction, rejection: Rejection) -> Dialog:
    """The record of an instruction whose simulation could not run to an ending (a call or the code
    failed): rejected at once, by `rejection`'s rule."""
    dialog = _Dialogue(tool, instruction).finish(ending="not_simulated", detail=rejection.reason)
    return dialog.rejected(rejection.step, rejection.rule, rejection.reason)


INSTRUCTIONS: BatchStep[Tool, ToolInstructions] = BatchStep(
    "instructions",
    item_id=lambda tool: tool.tool_id,
    rejected=lambda tool, rejection: ToolInstructions(
        tool_id=tool.tool_id, instructions=[], rejection=rejection
    ),
)
"""A tool whose instructions could not be written (a call or the code failed) gets none."""


def simulation_step(tool: Tool) -> BatchStep[Instruction, Dialog]:
    """The simulation of instructions of `tool` as a batch step: an instruction whose simulation
    raised is a dialogue rejected at once (`rejected_dialog`)."""
    return BatchStep(
        "simulation",
        item_id=lambda instruction: instruction.instruction_id,
        rejected=lambda instruction, rejection: rejected_dialog(tool, instruction, rejection),
    )


def others_offered(
    tool: Tool,
    instruction: Instruction,
    candidates: Sequence[Seed],
    count: int,
    build: Callable[[Seed], Tool | None],
) -> list[Tool]:
    """Up to `count` tools to offer beside `tool` in the dialogue of `instruction`: candidates (seeds
    of the tool's category) in an order drawn from the dialogue's id, so each dialogue has its own and
    a re-run the same, skipping one whose build was rejected or whose function names clash with the
    tools already chosen (a call names a function, so names must tell the tools apart)."""
    chosen: list[Tool] = []
    names = {route.name for route in tool.routes}

    def order(seed: Seed) -> str:
        return hashlib.sha256(f"{instruction.instruction_id}/{seed.seed_id}".encode()).hexdigest()

    for seed in sorted((c for c in candidates if c.seed_id != tool.tool_id), key=order):
        if len(chosen) == count:
            break
        other = build(seed)
        theirs = {route.name for route in other.routes} if other is not None else names
        if other is not None and not theirs & names:
            chosen.append(other)
            names |= theirs
    return chosen


def simulate_batch(
    tool: Tool,
    instructions: list[Instruction],
    gateway: LLMGateway,
    settings: SimulationSettings,
    candidates: Sequence[Seed] = (),
    toolset: ToolsetSettings | None = None,
) -> Batch[Instruction, Dialog]:
    """`simulate` over instructions of one tool, one dialogue each (a failed one already rejected).

    With `tools_per_dialog` above 1, each dialogue also offers tools built from `candidates` (by the
    toolset step's own code and settings: answers from the LLM cache where that step built them)."""
    built: dict[str, Tool | None] = {}

    def build(seed: Seed) -> Tool | None:
        if seed.seed_id not in built:
            outcome = build_tool(seed, gateway, toolset)
            built[seed.seed_id] = outcome if isinstance(outcome, Tool) else None
        return built[seed.seed_id]

    def one(instruction: Instruction) -> Dialog:
        others = others_offered(
            tool, instruction, candidates, tools_offered(settings, instruction) - 1, build
        )
        return simulate(tool, instruction, gateway, settings, others)

    return simulation_step(tool).run(instructions, one)


@batch_task("write-instructions", "instructions-{tools[0].tool_id}")
def write_instructions_task(
    tools: list[Tool], settings: SimulationSettings, llm: LLMConfig, run_id: str
) -> Batch[Tool, ToolInstructions]:
    """Prefect task: the user agent's instructions for a batch of tools."""
    gateway = gateway_for(llm, run_id)
    return INSTRUCTIONS.run(tools, lambda tool: write_instructions(tool, gateway, settings))


@batch_task("simulate", "simulate-{instructions[0].instruction_id}")
def simulate_task(
    tool: Tool,
    instructions: list[Instruction],
    settings: SimulationSettings,
    llm: LLMConfig,
    run_id: str,
    candidates: list[Seed] | None = None,
    toolset: ToolsetSettings | None = None,
) -> Batch[Instruction, Dialog]:
    """Prefect task: instructions of one tool through the three-agent simulation (`candidates`: the
    seeds whose tools may be offered beside it)."""
    gateway = gateway_for(llm, run_id)
    return simulate_batch(tool, instructions, gateway, settings, candidates or [], toolset)
