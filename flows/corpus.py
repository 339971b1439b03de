"""The top flow: seeds -> toolset -> instructions -> simulated instances, written as a versioned run.

`python -m flows.corpus --help`. Read it as a table of contents: every step is a task or a plain
function from `tasks/` or `storage/`; stages are chained per item by a `Pipeline`.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from agents.llm.errors import LLMCallError, ModelUnavailable
from agents.llm.gateway import LLMGateway, close_gateway, gateway_for
from agents.llm.preflight import check_models
from agents.llm.redact import redact
from flows.config import CorpusConfig, Stage
from flows.pipeline import Pipeline
from flows.progress import ProgressBoard
from flows.terminal import PrefectRecords, TerminalLog
from schemas.errors import InputError, RunStopped
from schemas.instance import Instance, Instruction, RejectionRule
from schemas.manifest import Manifest, StageStats
from schemas.seed import IngestProblem, Seed
from schemas.tool import RejectedTool, Tool
from storage.run_store import RunStore, RunWriter
from tasks import seeds as seed_reader
from tasks import simulation, toolset
from tasks.caching import result_storage
from tasks.code_version import code_version
from tasks.simulation import ToolInstructions, rejected_instance, simulate_task, write_instructions_task
from tasks.toolset import build_tool_task

STAGE_ROLES: dict[Stage, tuple[str, ...]] = {
    "toolset": toolset.ROLES,
    "instructions": simulation.INSTRUCTION_ROLES,
    "simulation": simulation.SIMULATION_ROLES,
}
EXIT_OK, EXIT_BUG, EXIT_INPUT, EXIT_STOPPED = 0, 1, 2, 3


@dataclass
class RunRecords:
    """Everything a run produces, gathered as tasks finish."""

    seeds: list[Seed] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    rejected_tools: list[RejectedTool] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)


def load_seeds(config: CorpusConfig) -> tuple[list[Seed], list[IngestProblem], dict[str, str]]:
    """The selected seeds, what the reader reported, and hashes of the inputs."""
    source = config.seeds.source or seed_reader.default_seeds_path()
    seeds, problems = seed_reader.read_seeds(source, config.seeds.format, config.seeds.encoding)
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


def earlier_run(store: RunStore, run_id: str, with_instructions: bool) -> str:
    """The id of the run `--from-run` names (`latest` resolved), or InputError saying why it cannot be
    used: no such run, or one without the outputs the chosen stages start from."""
    run_id = store.latest_run_id() if run_id == "latest" else run_id
    runs = store.list_runs()
    if not run_id or run_id not in runs:
        latest = ", ".join(runs[-5:]) or "none"
        raise InputError(f"--from-run: no run {run_id!r} in {store.out} (latest runs: {latest})")
    needed = ["seeds", "tools", "rejected_tools", *(["instructions"] if with_instructions else [])]
    missing = [name for name in needed if not store.has_artifact(run_id, name)]
    if missing:
        raise InputError(f"--from-run: run {run_id} in {store.out} has no {', '.join(missing)} to start from")
    return run_id


def reuse_run(store: RunStore, run_id: str, records: RunRecords, with_instructions: bool) -> str:
    """Take seeds and tools (and instructions, when the run starts at the simulation) from an earlier run."""
    run_id = earlier_run(store, run_id, with_instructions)
    records.seeds = store.read_records(run_id, "seeds", Seed)
    records.tools = store.read_records(run_id, "tools", Tool)
    records.rejected_tools = store.read_records(run_id, "rejected_tools", RejectedTool)
    if with_instructions:
        records.instructions = store.read_records(run_id, "instructions", Instruction)
    records.inputs["from_run"] = run_id
    return run_id


def roles_for(stages: list[Stage]) -> list[str]:
    """The model roles the chosen stages call, each once."""
    return list(dict.fromkeys(role for stage in stages for role in STAGE_ROLES[stage]))


def check_inputs(config: CorpusConfig, gateway: LLMGateway) -> None:
    """What can be found wrong before any work (InputError): the run store, the seed list (when the
    run reads one) or the earlier run it starts from, and every model the chosen stages call
    (`agents.llm.preflight`)."""
    try:
        store = RunStore(config.out)
        store.check_writable()
    except (OSError, ValueError) as exc:
        raise InputError(f"--out {config.out}: the run store cannot be written: {exc}") from None
    if "toolset" in config.stages:
        load_seeds(config)
    else:
        earlier_run(store, config.from_run or "latest", "instructions" not in config.stages)
    check_models(gateway, roles_for(config.stages))


def failure(future: PrefectFuture) -> tuple[str, bool] | ModelUnavailable | None:
    """None when the task completed; the error when its model was stopped (the item stays unfinished);
    else why it failed after its retries, and whether an LLM call did."""
    try:
        future.result()
    except ModelUnavailable as stopped:
        return stopped
    except Exception as exc:
        return redact(f"{type(exc).__name__}: {exc}")[:1000], isinstance(exc, LLMCallError)
    return None


class CorpusRun:
    """Submits tasks stage after stage as their inputs arrive, and files every outcome."""

    def __init__(self, config: CorpusConfig, run_id: str, gateway: LLMGateway, board: ProgressBoard) -> None:
        self.config, self.run_id, self.board = config, run_id, board
        self.records = RunRecords()
        self.pipeline = Pipeline()
        self.finished: Counter[str] = Counter()  # items of each stage with an outcome
        self.task_runs = 0
        self.stopped: ModelUnavailable | None = None
        storage = result_storage(config.llm)
        refresh = not config.llm.use_cache
        self.build_tool = build_tool_task.with_options(result_storage=storage, refresh_cache=refresh)
        self.write_instructions = write_instructions_task.with_options(
            result_storage=storage, refresh_cache=refresh
        )
        self.simulate = simulate_task.with_options(result_storage=storage, refresh_cache=refresh)
        for stage, unit in (("toolset", "tools"), ("instructions", "tools"), ("simulation", "instances")):
            if stage in config.stages:
                board.stage(stage, unit)

    # -- submitting -------------------------------------------------------------------------------

    def submit_tool(self, seed: Seed) -> None:
        args = (seed, self.config.toolset, self.config.llm, self.run_id)
        self._submit("toolset", self.build_tool, *args, tag=("tool", seed))

    def submit_instructions(self, tool: Tool) -> None:
        if "instructions" in self.config.stages:
            args = (tool, self.config.simulation, self.config.llm, self.run_id)
            self._submit("instructions", self.write_instructions, *args, tag=("instructions", tool))

    def submit_instance(self, tool: Tool, instruction: Instruction) -> None:
        if "simulation" in self.config.stages:
            args = (tool, instruction, self.config.simulation, self.config.llm, self.run_id)
            self._submit("simulation", self.simulate, *args, tag=("instance", (tool, instruction)))

    def _submit(self, stage: str, task: Any, *args: Any, tag: Any) -> None:
        if self.stopped is None:
            self.board.expect(stage)
            self.pipeline.submit(task, *args, tag=tag)
            self.task_runs += 1

    def stop(self, error: ModelUnavailable) -> None:
        """Stop the run: a model failed for good. Tasks not started are dropped, running ones finish."""
        if self.stopped is None:
            self.stopped = error
            self.task_runs -= self.pipeline.cancel()
            self.records.notes.append(f"stopped: {error}")

    # -- filing outcomes --------------------------------------------------------------------------

    def on_tool(self, seed: Seed, future: PrefectFuture) -> None:
        problem = failure(future)
        if isinstance(problem, ModelUnavailable):
            return self.stop(problem)
        self.finished["toolset"] += 1
        if problem is None:
            result = future.result()
        else:
            reason, llm_failed = problem
            stage = "llm" if llm_failed else "task"
            result = RejectedTool(
                tool_id=seed.seed_id, name=seed.name, category=seed.category, stage=stage, reason=reason
            )
        if isinstance(result, Tool):
            self.records.tools.append(result)
            self.submit_instructions(result)
        else:
            self.records.rejected_tools.append(result)
        self.board.advance("toolset", isinstance(result, Tool))

    def on_instructions(self, tool: Tool, future: PrefectFuture) -> None:
        problem = failure(future)
        if isinstance(problem, ModelUnavailable):
            return self.stop(problem)
        self.finished["instructions"] += 1
        if problem is None:
            result: ToolInstructions = future.result()
        else:
            result = ToolInstructions(tool_id=tool.tool_id, instructions=[], problem=problem[0])
        if result.problem:
            self.records.notes.append(f"tool {tool.tool_id}: no instructions: {result.problem}")
        elif result.shortfall:
            self.records.notes.append(f"tool {tool.tool_id}: {result.shortfall}")
        self.records.instructions += result.instructions
        for instruction in result.instructions:
            self.submit_instance(tool, instruction)
        self.board.advance("instructions", bool(result.instructions))

    def on_instance(self, tool: Tool, instruction: Instruction, future: PrefectFuture) -> None:
        problem = failure(future)
        if isinstance(problem, ModelUnavailable):
            return self.stop(problem)
        self.finished["simulation"] += 1
        if problem is None:
            instance: Instance = future.result()
        else:
            reason, llm_failed = problem
            rule: RejectionRule = "llm_error" if llm_failed else "task_failed"
            instance = rejected_instance(tool, instruction, rule, reason)
        self.records.instances.append(instance)
        self.board.advance("simulation", instance.status == "accepted")

    def drain(self) -> None:
        """Wait for every submitted task, filing each outcome as it arrives."""
        handlers = {"tool": self.on_tool, "instructions": self.on_instructions}
        for (kind, subject), future in self.pipeline.completed():
            if kind == "instance":
                self.on_instance(*subject, future)
            else:
                handlers[kind](subject, future)


def stage_stats(run: CorpusRun) -> list[StageStats]:
    """Inputs, outputs, rejections, unfinished items and wall time of each stage that ran."""
    r, stages, finished = run.records, run.board.stages, run.finished
    accepted = sum(i.status == "accepted" for i in r.instances)
    with_instructions = len({i.tool_id for i in r.instructions})
    counts = {  # inputs, outputs, rejected
        "toolset": (len(r.seeds), len(r.tools), len(r.rejected_tools)),
        "instructions": (len(r.tools), len(r.instructions), finished["instructions"] - with_instructions),
        "simulation": (len(r.instructions), accepted, len(r.instances) - accepted),
    }
    return [
        StageStats(
            name=name,
            inputs=counts[name][0],
            outputs=counts[name][1],
            rejected=counts[name][2],
            unfinished=counts[name][0] - finished[name],
            seconds=progress.seconds,
        )
        for name, progress in stages.items()
    ]


def write_artifacts(writer: RunWriter, config: CorpusConfig, records: RunRecords) -> None:
    """Parquet files of the run, in a stable order (sorted by id)."""
    writer.write_records("seeds", Seed, records.seeds)
    writer.write_records("tools", Tool, sorted(records.tools, key=lambda t: t.tool_id))
    writer.write_records(
        "rejected_tools", RejectedTool, sorted(records.rejected_tools, key=lambda t: t.tool_id)
    )
    if "instructions" in config.stages or "simulation" in config.stages:
        writer.write_records(
            "instructions", Instruction, sorted(records.instructions, key=lambda i: i.instruction_id)
        )
    if "simulation" in config.stages:
        instances = sorted(records.instances, key=lambda i: i.instance_id)
        writer.write_records("instances", Instance, [i for i in instances if i.status == "accepted"])
        writer.write_records("rejected_instances", Instance, [i for i in instances if i.status == "rejected"])


def summarize(records: RunRecords) -> None:
    """A table artifact in the Prefect UI: one row per tool."""
    instructions = Counter(i.tool_id for i in records.instructions)
    outcomes = Counter((i.tool_id, i.status) for i in records.instances)  # one pass, not one per tool
    rows = []
    for tool in sorted(records.tools, key=lambda t: t.tool_id):
        rows.append(
            {
                "tool": tool.tool_id,
                "status": "ok",
                "functions": len(tool.functions),
                "instructions": instructions[tool.tool_id],
                "accepted": outcomes[tool.tool_id, "accepted"],
                "rejected": outcomes[tool.tool_id, "rejected"],
                "reason": "",
            }
        )
    for rejected in sorted(records.rejected_tools, key=lambda t: t.tool_id):
        rows.append(
            {
                "tool": rejected.tool_id,
                "status": f"rejected ({rejected.stage})",
                "functions": 0,
                "instructions": 0,
                "accepted": 0,
                "rejected": 0,
                "reason": rejected.reason[:200],
            }
        )
    accepted = sum(i.status == "accepted" for i in records.instances)
    create_table_artifact(
        key="corpus-summary",
        table=rows,
        description=f"{len(records.tools)} tools, {len(records.rejected_tools)} rejected; "
        f"{accepted} instances accepted of {len(records.instances)}",
    )


def write_manifest(
    writer: RunWriter, run: CorpusRun, gateway: LLMGateway, started_at: datetime, status: str
) -> None:
    from prefect.runtime import flow_run

    writer.write_manifest(
        Manifest(
            run_id=writer.run_id,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            status=status,
            code_version=code_version(),
            config=run.config.public_dump(),
            inputs=run.records.inputs,
            stages=stage_stats(run),
            llm=gateway.ledger.summary(),
            artifacts={},
            notes=[redact(n) for n in run.records.notes],
            flow_run_id=flow_run.get_id(),
            task_runs=run.task_runs,
        )
    )


@functools.cache
def quiet_garbage_collector() -> None:
    """Keep Python's cycle collector from stalling the run's threads (measured in bench/README.md).

    What exists at the first run (modules, schemas, Prefect's client) lives as long as the process:
    frozen, a full collection no longer scans it. Unfrozen, one took 0.13-0.28 s, every thread
    stopped, in the middle of the toolset benchmark. Once per process: a process that serves many
    runs must not freeze each run's leftovers, whose cycles could then never be collected.
    """
    gc.collect()
    gc.freeze()


@flow(name="toolforge-corpus", log_prints=False, persist_result=False)
def corpus_flow(config: CorpusConfig, run_id: str | None = None) -> str:
    """Seeds -> toolset -> instructions -> instances, written to `<out>/runs/<run_id>/`; returns that dir.

    The models are checked first (`check_models`; free when `run` just did), so a broken one fails
    the run before its folder exists. A model that fails every call midway stops the run: what was
    finished is written, the manifest says `failed` and why, and `RunStopped` is raised.
    """
    quiet_garbage_collector()
    store = RunStore(config.out)
    run_id = run_id or store.new_run_id()
    gateway = gateway_for(config.llm, run_id)
    try:
        check_models(gateway, roles_for(config.stages))
        writer = store.start_run(run_id)
    except BaseException:
        close_gateway(run_id)
        raise
    started_at = datetime.now(UTC)
    board = ProgressBoard(gateway)
    run = CorpusRun(config, writer.run_id, gateway, board)
    records = run.records
    try:
        if "toolset" in config.stages:
            records.seeds, problems, records.inputs = load_seeds(config)
            records.notes += [str(p) for p in problems]
            if problems:
                print(seed_reader.summarize_problems(problems), file=sys.stderr)
            for seed in records.seeds:
                run.submit_tool(seed)
        else:
            starts_at_simulation = "instructions" not in config.stages
            reuse_run(store, config.from_run or "latest", records, starts_at_simulation)
            by_id = {t.tool_id: t for t in records.tools}
            if starts_at_simulation:
                for instruction in records.instructions:
                    run.submit_instance(by_id[instruction.tool_id], instruction)
            else:
                for tool in records.tools:
                    run.submit_instructions(tool)
        run.drain()
        board.close()
        write_artifacts(writer, config, records)
        summarize(records)
        if run.stopped is not None:
            raise RunStopped(
                f"{run.stopped}. The run stopped; what it finished is in {writer.run_dir} (status failed)"
            )
    except BaseException as exc:
        if run.stopped is None:
            records.notes.append(f"failed: {type(exc).__name__}: {exc}")
        write_manifest(writer, run, gateway, started_at, "failed")
        raise
    finally:
        close_gateway(writer.run_id)
    write_manifest(writer, run, gateway, started_at, "completed")
    writer.publish()
    return writer.run_dir


def run(config: CorpusConfig) -> str:
    """Check the inputs, then run the flow with a thread pool that can keep `concurrency` LLM calls in
    flight; return the run directory once Prefect has recorded every task run of it.

    The checks come before Prefect starts its server, so bad input fails in seconds (InputError).
    """
    run_id = RunStore.new_run_id()
    try:
        check_inputs(config, gateway_for(config.llm, run_id))
    except BaseException:
        close_gateway(run_id)
        raise
    workers = max(2 * config.llm.concurrency, 4)
    flow = corpus_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))
    state = flow(config, run_id=run_id, return_state=True)
    PrefectRecords(config.out, run_id).wait()
    return state.result()


def main(argv: list[str] | None = None) -> int:
    """The command line: the run directory as the last line of stdout and exit status 0; else one
    `error:` line on stderr and 2 (bad input or configuration: nothing ran), 3 (the run stopped:
    a model kept failing) or 1 (a bug: its traceback is in the log file)."""
    from flows.cli import parse_command_line

    config, options = parse_command_line(argv)
    with TerminalLog.for_config(config, options.log_file) as log:
        try:
            run_dir = run(config)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT
        except RunStopped as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_STOPPED
        except Exception as exc:
            log.record_exception(exc)
            print(f"error: {type(exc).__name__}: {exc} (traceback in {log.path})", file=sys.stderr)
            return EXIT_BUG
    print(run_dir, flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
