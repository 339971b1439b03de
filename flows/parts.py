"""The part writers of a corpus run, one per artifact it writes (`storage.run_store.PartWriter`):
each step's outputs stream into their artifact in parts, so what a run finished is on disk even
when it dies.

Which artifacts a run writes follows from its steps: seeds, tools and the rejections always; the
instructions when it writes or simulates them; the dialogues when it simulates; the pool's taxonomy
and APIs with an API pool (`--evolve N`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.config import CorpusConfig
from schemas.dialog import Dialog
from schemas.pool import PoolAPI, RejectedAPI, TaxonomyNode
from schemas.rejection import Rejection
from schemas.seed import Seed
from schemas.simulation import Instruction
from schemas.tool import RejectedTool, Tool
from storage.run_store import PartWriter, RunStore, RunWriter

COPIED = {"seeds": Seed, "tools": Tool, "rejected_tools": RejectedTool, "instructions": Instruction}
"""The artifacts a run can take from an earlier one (`--from-run`), and their records."""


@dataclass
class PoolParts:
    """The API pool's artifacts: its taxonomy, the APIs it kept and those it rejected."""

    taxonomy: PartWriter[TaxonomyNode]
    apis: PartWriter[PoolAPI]
    rejected_apis: PartWriter[RejectedAPI]


@dataclass
class RunParts:
    """The artifacts of one run; see the module's docstring."""

    seeds: PartWriter[Seed]
    tools: PartWriter[Tool]
    rejected_tools: PartWriter[RejectedTool]
    rejections: PartWriter[Rejection]
    instructions: PartWriter[Instruction] | None
    dialogs: PartWriter[Dialog] | None
    rejected_dialogs: PartWriter[Dialog] | None
    pool: PoolParts | None

    @classmethod
    def of_run(cls, config: CorpusConfig, writer: RunWriter) -> RunParts:
        """The part writers the run's steps (`config.stages`, `config.pool`) fill."""
        stages = config.stages

        def parts(name: str, model: type[Any]) -> Any:
            return writer.parts(name, model, rows=config.parts.rows, seconds=config.parts.seconds)

        simulates = "simulation" in stages
        made = {
            "seeds": parts("seeds", Seed),
            "tools": parts("tools", Tool),
            "rejected_tools": parts("rejected_tools", RejectedTool),
            "rejections": parts("rejections", Rejection),
            "instructions": parts("instructions", Instruction)
            if "instructions" in stages or simulates
            else None,
            "dialogs": parts("dialogs", Dialog) if simulates else None,
            "rejected_dialogs": parts("rejected_dialogs", Dialog) if simulates else None,
        }
        pool = None
        if config.pool.size and "toolset" in stages:
            pool = PoolParts(
                parts("taxonomy", TaxonomyNode), parts("apis", PoolAPI), parts("rejected_apis", RejectedAPI)
            )
        return cls(**made, pool=pool)

    def flush_verification(self) -> None:
        """Write what the verification steps filed so far: dialogues, rejected ones, rejections."""
        for parts in (self.dialogs, self.rejected_dialogs, self.rejections):
            if parts is not None:
                parts.flush()


def copy_run(store: RunStore, run_id: str, names: list[str], writer: RunWriter, rows: int) -> None:
    """Take the named artifacts of an earlier run (`COPIED`) as the run's own, part by part."""
    for name in names:
        target = writer.parts(name, COPIED[name], rows=rows)
        for part in store.part_paths(run_id, name):
            target.add(store.read_part(part, COPIED[name]))
        target.flush(empty=True)
