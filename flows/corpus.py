"""The top flow: seeds -> toolset, written as a versioned run. `python -m flows.corpus --help`.

Read it as a table of contents: each step is a task or a plain function from `tasks/` or `storage/`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import unmapped

from agents.llm.gateway import LLMGateway, close_gateway, gateway_for
from agents.llm.redact import redact
from flows.config import CorpusConfig
from flows.progress import StageProgress
from schemas.manifest import Manifest, StageStats
from schemas.seed import IngestProblem, Seed
from schemas.tool import RejectedTool, Tool
from storage.run_store import RunStore, RunWriter
from tasks import seeds as seed_reader
from tasks.code_version import code_version
from tasks.toolset import build_tool_task, result_storage


def load_seeds(config: CorpusConfig) -> tuple[list[Seed], list[IngestProblem], dict[str, str]]:
    """The selected seeds, what the reader reported, and hashes of the inputs."""
    source = config.seeds.source or seed_reader.default_seeds_path()
    seeds, problems = seed_reader.read_seeds(source, config.seeds.format)
    selected = seed_reader.select_seeds(
        seeds,
        limit=config.seeds.limit,
        categories=config.seeds.categories or None,
        sample=config.seeds.sample,
        seed=config.seeds.sample_seed,
    )
    parsed = json.dumps([s.model_dump() for s in seeds], sort_keys=True).encode()
    inputs = {"seeds_parsed": hashlib.sha256(parsed).hexdigest()}
    if Path(source).is_file():
        inputs["seed_source"] = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    return selected, problems, inputs


def build_toolset(
    seeds: list[Seed], config: CorpusConfig, run_id: str, gateway: LLMGateway
) -> tuple[list[Tool], list[RejectedTool], StageStats]:
    """Map the toolset task over the seeds; every seed ends as a tool or a rejection."""
    progress = StageProgress("toolset", len(seeds), "tools", gateway)
    task = build_tool_task.with_options(
        result_storage=result_storage(config.llm),
        refresh_cache=not config.llm.use_cache,
    )
    futures = task.map(seeds, unmapped(config.toolset), unmapped(config.llm), unmapped(run_id))
    index = {future.task_run_id: i for i, future in enumerate(futures)}
    results: list[Tool | RejectedTool | None] = [None] * len(seeds)
    for future in as_completed(futures):
        i = index[future.task_run_id]
        try:
            results[i] = future.result()
        except Exception as exc:  # a task that failed after its retries is recorded, never dropped
            seed = seeds[i]
            results[i] = RejectedTool(
                tool_id=seed.seed_id,
                name=seed.name,
                category=seed.category,
                stage="task",
                reason=redact(f"{type(exc).__name__}: {exc}")[:1000],
            )
        progress.advance(isinstance(results[i], Tool))
    progress.finish()
    tools = [r for r in results if isinstance(r, Tool)]
    rejected = [r for r in results if isinstance(r, RejectedTool)]
    stats = StageStats(
        name="toolset",
        inputs=len(seeds),
        outputs=len(tools),
        rejected=len(rejected),
        seconds=progress.seconds,
    )
    return tools, rejected, stats


def summarize_toolset(tools: list[Tool], rejected: list[RejectedTool]) -> None:
    """A table artifact in the Prefect UI: one row per seed."""
    rows = [{"tool": t.tool_id, "status": "ok", "functions": len(t.functions), "reason": ""} for t in tools]
    rows += [
        {"tool": r.tool_id, "status": f"rejected ({r.stage})", "functions": 0, "reason": r.reason[:200]}
        for r in rejected
    ]
    create_table_artifact(
        key="toolset-summary",
        table=rows,
        description=f"{len(tools)} tools, {len(rejected)} rejected",
    )


def write_manifest(
    writer: RunWriter,
    config: CorpusConfig,
    started_at: datetime,
    status: str,
    inputs: dict[str, str],
    stages: list[StageStats],
    gateway: LLMGateway,
    notes: list[str],
) -> None:
    writer.write_manifest(
        Manifest(
            run_id=writer.run_id,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            status=status,
            code_version=code_version(),
            config=config.public_dump(),
            inputs=inputs,
            stages=stages,
            llm=gateway.ledger.summary(),
            artifacts={},
            notes=[redact(n) for n in notes],
        )
    )


@flow(name="toolforge-corpus", log_prints=False, persist_result=False)
def corpus_flow(config: CorpusConfig) -> str:
    """Seeds -> toolset, written to `<out>/runs/<run_id>/`; returns the run directory."""
    store = RunStore(config.out)
    writer = store.start_run(store.new_run_id())
    started_at = datetime.now(UTC)
    gateway = gateway_for(config.llm, writer.run_id)
    stages: list[StageStats] = []
    inputs: dict[str, str] = {}
    notes: list[str] = []
    try:
        seeds, problems, inputs = load_seeds(config)
        notes += [str(p) for p in problems]
        if problems:
            print(seed_reader.summarize_problems(problems), file=sys.stderr)
        writer.write_records("seeds", Seed, seeds)
        tools, rejected, stats = build_toolset(seeds, config, writer.run_id, gateway)
        stages.append(stats)
        writer.write_records("tools", Tool, tools)
        writer.write_records("rejected_tools", RejectedTool, rejected)
        summarize_toolset(tools, rejected)
    except BaseException as exc:
        notes.append(f"failed: {type(exc).__name__}: {exc}")
        write_manifest(writer, config, started_at, "failed", inputs, stages, gateway, notes)
        raise
    finally:
        close_gateway(writer.run_id)
    write_manifest(writer, config, started_at, "completed", inputs, stages, gateway, notes)
    writer.publish()
    return writer.run_dir


def run(config: CorpusConfig) -> str:
    """Run the flow with a thread pool sized to the LLM concurrency."""
    workers = max(config.llm.concurrency, 4)
    return corpus_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))(config)


def main(argv: list[str] | None = None) -> int:
    from flows.cli import parse_config

    config = parse_config(argv)
    try:
        run_dir = run(config)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(run_dir, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
