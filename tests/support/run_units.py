"""The units of a corpus run, made in a temporary run store without Prefect or a model: for the
tests of filing, the ledger, the dedups and resumption."""

from __future__ import annotations

import io
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway
from flows.config import CorpusConfig, SeedSelection
from flows.filing import CorpusRun
from flows.progress import ProgressBoard
from schemas.simulation import Instruction
from storage.run_store import RunStore


def corpus_config(tmp_path: Path, llm: LLMConfig, **settings: Any) -> CorpusConfig:
    return CorpusConfig(
        seeds=SeedSelection(source="unused.md"), llm=llm, out=str(tmp_path / "out"), **settings
    )


def corpus_run(
    tmp_path: Path, llm: LLMConfig, run_id: str = "run", resume: bool = False, **settings: Any
) -> tuple[RunStore, CorpusRun]:
    """A run's units (`CorpusRun`), its progress lines drawn to nowhere."""
    config = corpus_config(tmp_path, llm, **settings)
    store = RunStore(config.out)
    writer = store.resume_run(run_id) if resume else store.start_run(run_id)
    gateway = LLMGateway(llm)
    return store, CorpusRun(config, writer, gateway, ProgressBoard(gateway, stream=io.StringIO()))


def instruction(number: int, tool_id: str = "atlas") -> Instruction:
    """The instruction `<tool_id>-<number>`."""
    return Instruction(
        instruction_id=f"{tool_id}-{number}",
        tool_id=tool_id,
        text="Find Lisbon.",
        style="command",
        functions=[],
    )


def returned(value: Any) -> Future[Any]:
    """The future of a task run that returned `value`."""
    future: Future[Any] = Future()
    future.set_result(value)
    return future
