"""Decontamination of a corpus run against test sets (`--decontaminate SOURCE`): each instruction a
tool's batch brings is compared with the test sets' questions as it is filed, before it is simulated;
one that near-duplicates a question (`tasks.contamination.TestSetIndex`, word Jaccard at
`--decontaminate-threshold`) is not written to `instructions` but rejected (step `decontamination`,
rule `test_set_overlap`, the reason naming the test set, the question's id and text).

The manifest's `decontamination` stage counts them: inputs (the instructions written for the tools)
= outputs (those kept, the rows of `instructions`) + rejected; its `inputs` say which test sets were
read (`test_sets`: each source and its number of questions), which the export's card repeats.
"""

from __future__ import annotations

from flows.ledger import RunLedger
from schemas.simulation import Instruction
from schemas.text import clipped
from tasks.contamination import TestSetIndex

STEP, RULE = "decontamination", "test_set_overlap"
QUOTED = 120
"""The most characters of the test question a rejection's reason quotes."""


class Decontamination:
    """Drops the instructions that near-duplicate a test question; see the module's docstring."""

    def __init__(self, index: TestSetIndex, ledger: RunLedger) -> None:
        self.index, self.ledger = index, ledger
        ledger.inputs["test_sets"] = index.described()

    @classmethod
    def of_run(cls, sources: list[str], threshold: float, ledger: RunLedger) -> Decontamination | None:
        """The run's decontamination, or None when it names no source."""
        return cls(TestSetIndex.of_sources(sources, threshold), ledger) if sources else None

    def kept(self, instructions: list[Instruction]) -> list[Instruction]:
        """The instructions that near-duplicate no test question; each other one rejected."""
        kept: list[Instruction] = []
        for instruction in instructions:
            found = self.index.match(instruction.text)
            if found is None:
                kept.append(instruction)
                continue
            question, score = found
            quoted = clipped(question.text, QUOTED)
            reason = f"near-duplicate of test question {question.name} (word Jaccard {score:.2f}): {quoted!r}"
            self.ledger.reject(STEP, instruction.instruction_id, RULE, reason)
        return kept
