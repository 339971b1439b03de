"""What a run already holds when it does not start from nothing: a resumed run's own parts, or the
outputs of an earlier run it takes up (`--from-run`). What is in a run's parts is never done again.

`take_up` puts a resumed run's ledger back where the manifest left it (started at, inputs, notes, the
model calls paid); `done_ids` reads, step by step, the ids of the items filed, and the counts the
ledger keeps per tool and per step. `waiting_simulations` makes the simulation units of the
instructions not simulated yet; `SimulationUnits` gives each unit the seeds its dialogues may offer
beside its tool.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flows.ledger import RunLedger
from schemas.manifest import Manifest
from schemas.rejection import Rejection
from schemas.seed import Seed
from schemas.simulation import Instruction
from schemas.tool import Tool
from storage.run_store import RunStore
from tasks.simulation import SimulationSettings


@dataclass(frozen=True)
class Simulation:
    """One unit of the simulation step: instructions of one tool (the tool travels with them, and the
    seeds whose tools its dialogues may offer beside it)."""

    tool: Tool
    instructions: list[Instruction]
    candidates: list[Seed] = field(default_factory=list)


class SimulationUnits:
    """The run's seeds by category (when dialogues offer several tools; only then), for the units."""

    def __init__(self, settings: SimulationSettings) -> None:
        self.offers_several = settings.tools_per_dialog > 1 or settings.complexity == "hard"
        self.by_category: defaultdict[str, list[Seed]] = defaultdict(list)

    def index(self, seeds: Iterable[Seed], excluded: set[str] | None = None) -> None:
        """Know these seeds (but `excluded` ones) by category."""
        if self.offers_several:
            for seed in seeds:
                if seed.seed_id not in (excluded or set()):
                    self.by_category[seed.category].append(seed)

    def unit(self, tool: Tool, instructions: list[Instruction]) -> Simulation:
        """The simulation unit of a tool's instructions, with the seeds of its category."""
        return Simulation(tool, instructions, list(self.by_category.get(tool.category, [])))


def take_up(ledger: RunLedger, earlier: Manifest) -> None:
    """A resumed run's ledger as its manifest left it, with this resumption's time added."""
    ledger.started_at, ledger.inputs, ledger.notes[:] = earlier.started_at, earlier.inputs, earlier.notes
    ledger.resumed = [*earlier.resumed, datetime.now(UTC)]
    ledger.gateway.ledger.include(earlier.llm.by_stage_role)


def done_ids(store: RunStore, run_id: str, ledger: RunLedger) -> dict[str, set[str]]:
    """What a resumed run's parts already hold, by step: the ids of the items each step filed (and
    the counts the ledger keeps, taken up where they were)."""

    def column(name: str, field: str) -> list[str]:
        return [str(value) for value in store.read_column(run_id, name, field)]

    rejections = store.read_records(run_id, "rejections", Rejection)
    ledger.rejected_by_step = Counter(r.step for r in rejections)
    instruction_tools = column("instructions", "tool_id")
    ledger.tools_with_instructions = set(instruction_tools)
    for tool_id in instruction_tools:
        ledger.tool_counts(tool_id)["instructions"] += 1
    for name, status in (("dialogs", "accepted"), ("rejected_dialogs", "rejected")):
        for tool_id in column(name, "tool_id"):
            ledger.tool_counts(tool_id)[status] += 1
    instructions_rejected = {r.item_id for r in rejections if r.step == "instructions"}
    # a tool whose every instruction was decontaminated wrote none: its instruction ids are `<tool>-<n>`
    ledger.tools_with_instructions |= {
        r.item_id.rsplit("-", 1)[0] for r in rejections if r.step == "decontamination"
    }
    return {
        "toolset": {*column("tools", "tool_id"), *column("rejected_tools", "tool_id")},
        "instructions": ledger.tools_with_instructions | instructions_rejected,
        "simulation": {*column("dialogs", "dialog_id"), *column("rejected_dialogs", "dialog_id")},
    }


def tools_with_instructions(store: RunStore, run_id: str) -> set[str]:
    """The tools a run's instructions are for."""
    return {str(tool_id) for tool_id in store.read_column(run_id, "instructions", "tool_id")}


def waiting_simulations(
    store: RunStore, run_id: str, done: set[str], units: SimulationUnits
) -> list[Simulation]:
    """The instructions of the run not simulated yet (not in `done`), as one unit per tool."""
    waiting: defaultdict[str, list[Instruction]] = defaultdict(list)
    for instruction in store.iter_records(run_id, "instructions", Instruction):
        if instruction.instruction_id not in done:
            waiting[instruction.tool_id].append(instruction)
    return [
        units.unit(tool, waiting[tool.tool_id])
        for tool in store.iter_records(run_id, "tools", Tool)
        if tool.tool_id in waiting
    ]
