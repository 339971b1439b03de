"""Filing what each step of a corpus run returns: outputs to their artifact (streamed in parts),
each rejection to its step's rejected records and to `rejections`, counted in the run's ledger.

Each handler of `StepFiling` files one completed batch and returns what it produced for the steps
after it; where that goes is the steps' declaration (`flows.corpus.steps`), not the handler's.
`CorpusRun` makes one run's units together: its parts, ledger, batch outcomes, filing and pool.
"""

from __future__ import annotations

from typing import Any

from agents.llm.gateway import LLMGateway
from flows.config import CorpusConfig
from flows.decontamination import Decontamination
from flows.ledger import RunLedger
from flows.outcomes import BatchOutcomes
from flows.parts import RunParts
from flows.pool_growth import PoolGrowth
from flows.progress import ProgressBoard
from flows.resumption import Simulation, SimulationUnits
from schemas.dialog import Dialog
from schemas.pool import PoolAPI
from schemas.seed import Seed
from schemas.tool import Tool
from storage.run_store import RunWriter
from tasks.checks import Checked
from tasks.judge import JUDGE
from tasks.simulation import INSTRUCTIONS, ToolInstructions, simulation_step
from tasks.toolset import TOOLSET


class StepFiling:
    """The handlers of the corpus steps; see the module's docstring."""

    def __init__(
        self,
        parts: RunParts,
        ledger: RunLedger,
        outcomes: BatchOutcomes,
        board: ProgressBoard,
        units: SimulationUnits,
        decontamination: Decontamination | None = None,
    ) -> None:
        self.parts, self.ledger, self.outcomes, self.board, self.units = parts, ledger, outcomes, board, units
        self.decontamination = decontamination

    def file_tools(self, seeds: list[Seed | PoolAPI], future: Any) -> list[Tool]:
        """The toolset's tools and rejected seeds; the tools it built."""
        batch = self.outcomes.of(future, seeds, TOOLSET)
        for outcome in batch.outcomes:
            if isinstance(outcome, Tool):
                self.parts.tools.add([outcome])
                self.ledger.tool_counts(outcome.tool_id)["functions"] = len(outcome.functions)
            else:
                self.parts.rejected_tools.add([outcome])
                self.ledger.reject(outcome.step, outcome.tool_id, outcome.rule, outcome.reason)
            self.board.advance("toolset", isinstance(outcome, Tool))
        self.outcomes.stop_if(batch)
        return [outcome for outcome in batch.outcomes if isinstance(outcome, Tool)]

    def file_instructions(self, tools: list[Tool], future: Any) -> list[Simulation]:
        """Each tool's instructions (kept together); a simulation unit for each tool that has some."""
        batch = self.outcomes.of(future, tools, INSTRUCTIONS)
        units = [self.file_tool_instructions(tool, outcome) for tool, outcome in batch.results]
        self.outcomes.stop_if(batch)
        return [unit for unit in units if unit is not None]

    def file_tool_instructions(self, tool: Tool, outcome: ToolInstructions) -> Simulation | None:
        assert self.parts.instructions is not None
        unit = None
        if outcome.instructions:
            kept = outcome.instructions
            if self.decontamination is not None:  # those near a test question are rejected, not written
                kept = self.decontamination.kept(kept)
            self.ledger.tools_with_instructions.add(tool.tool_id)
            if outcome.shortfall:
                self.ledger.notes.append(f"tool {tool.tool_id}: {outcome.shortfall}")
            if kept:
                self.parts.instructions.add(kept)  # one unit: a tool's instructions stay together
                self.ledger.tool_counts(tool.tool_id)["instructions"] += len(kept)
                unit = self.units.unit(tool, kept)
        else:
            rejection = outcome.rejection
            assert rejection is not None
            self.ledger.notes.append(f"tool {tool.tool_id}: no instructions: {rejection.reason}")
            self.ledger.reject(rejection.step, rejection.item_id, rejection.rule, rejection.reason)
        self.board.advance("instructions", bool(outcome.instructions))
        return unit

    def file_simulated(self, units: list[Simulation], future: Any) -> list[Dialog]:
        """A tool's simulated dialogues, for the checks (an instruction whose simulation failed: a
        rejected dialogue, which the checks file as it is)."""
        (unit,) = units
        batch = self.outcomes.of(future, unit.instructions, simulation_step(unit.tool))
        self.outcomes.stop_if(batch)
        return batch.outcomes

    def file_checked(self, dialogs: list[Dialog], future: Any) -> list[Dialog]:
        """The rule layer's outcome, when it is the last: every dialogue filed."""
        self.file_dialogs(future.result())
        return []

    def file_checked_for_judge(self, dialogs: list[Dialog], future: Any) -> list[Dialog]:
        """The rule layer's outcome, when the judge follows: the rejected dialogues filed; the
        accepted ones, for the judge."""
        checked: Checked = future.result()
        self.file_dialogs(Checked(rejected=checked.rejected, rejections=checked.rejections))
        return checked.accepted

    def file_judged(self, dialogs: list[Dialog], future: Any) -> list[Dialog]:
        """The judge's outcome (a batch whose task run failed: each dialogue rejected, `JUDGE`)."""
        batch = self.outcomes.of(future, dialogs, JUDGE)
        checked = Checked()
        for dialog in batch.outcomes:
            checked.file(dialog)
        self.file_dialogs(checked)
        self.outcomes.stop_if(batch)
        return []

    def file_dialogs(self, checked: Checked) -> None:
        """Dialogues at the end of the verification steps: to `dialogs` or `rejected_dialogs`."""
        assert self.parts.dialogs is not None and self.parts.rejected_dialogs is not None
        self.parts.dialogs.add(checked.accepted)
        self.parts.rejected_dialogs.add(checked.rejected)
        self.parts.rejections.add(checked.rejections)
        for rejection in checked.rejections:
            self.ledger.rejected_by_step[rejection.step] += 1
        for dialog in checked.accepted:
            self.ledger.tool_counts(dialog.tool_id)["accepted"] += 1
            self.board.advance("simulation", True)
        for dialog in checked.rejected:
            self.ledger.tool_counts(dialog.tool_id)["rejected"] += 1
            self.board.advance("simulation", False)


class CorpusRun:
    """One run's units, made together (and its progress lines, in the order of its steps)."""

    def __init__(
        self, config: CorpusConfig, writer: RunWriter, gateway: LLMGateway, board: ProgressBoard
    ) -> None:
        self.config, self.writer, self.gateway, self.board = config, writer, gateway, board
        self.parts = RunParts.of_run(config, writer)
        self.ledger = RunLedger(config, writer, gateway, board, self.parts.rejections)
        self.outcomes = BatchOutcomes(gateway.ledger, self.ledger.notes, by_item=bool(config.forecast.sample))
        self.units = SimulationUnits(config.simulation)
        verification = config.verification
        self.decontamination = Decontamination.of_run(
            verification.decontaminate, verification.decontaminate_threshold, self.ledger
        )
        self.filing = StepFiling(
            self.parts, self.ledger, self.outcomes, board, self.units, self.decontamination
        )
        self.judging = config.judging()
        self.pool: PoolGrowth | None = None
        if self.parts.pool is not None:
            board.stage("pool", "APIs")
            self.pool = PoolGrowth(config.pool, self.parts.pool, self.outcomes, self.ledger, board)
        for stage, unit in (("toolset", "tools"), ("instructions", "tools"), ("simulation", "dialogs")):
            if stage in config.stages:
                board.stage(stage, unit)
