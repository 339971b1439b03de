"""The top flow: seeds -> toolset -> instructions -> simulation -> rules -> judge -> dedup, streamed
into a versioned run.

`python -m flows.corpus --help`. `corpus_flow` reads as the run's table of contents: `steps` lists
the steps in order, each a task or a plain function from `tasks/`; the scheduler (`flows/scheduler.py`)
drives them with bounded work in flight, later steps first, and hands each step's outputs to the step
its declaration names; `flows/filing.py` files every outcome into the run store as parts
(`flows/parts.py`), counted in the run's ledger (`flows/ledger.py`: statistics, manifest), so a run
that dies can be resumed where it stood (`flows/resumption.py`).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import posixpath
import sys
import time
from collections import Counter
from typing import Any

from prefect import flow
from prefect.task_runners import TaskRunner

from agents.llm.gateway import close_gateway, gateway_for
from agents.llm.preflight import check_models
from agents.llm.redact import redact
from flows.budget import refuse_unpriced
from flows.config import CorpusConfig
from flows.execution import (
    IN_FLIGHT,
    dask_workers,
    finish_on_workers,
    llm_for_tasks,
    start_on_workers,
    submit_batch,
    task_runner,
)
from flows.filing import CorpusRun
from flows.forecast import ITEM_USAGES, forecast_run, forecast_store, given_forecast
from flows.inputs import (
    check_inputs,
    earlier_run,
    load_seeds,
    resumable_run,
    roles_for,
    with_secret_key,
    writable_store,
)
from flows.parts import copy_run
from flows.pool_growth import api_text
from flows.prefect_api import prefect_api_for
from flows.progress import HEARTBEAT_S, ProgressBoard, phase
from flows.report import RunReport, write_html_report
from flows.request_dedup import drop_duplicate_requests
from flows.resumption import done_ids, take_up, tools_with_instructions, waiting_simulations
from flows.scheduler import Scheduler, Stage
from flows.seed_dedup import drop_duplicate_seeds, duplicate_seed_ids, without_duplicates
from flows.terminal import PrefectRecords, TerminalLog, run_end_lines
from schemas.errors import BudgetSpent, InputError, RunStopped
from schemas.forecast import FORECAST_JSON, ITEM_USAGE_JSON, Forecast
from schemas.pool import PoolAPI
from schemas.seed import Seed
from schemas.tool import Tool
from schemas.verdict import CheckStats
from storage.run_store import RunStore
from tasks import seeds as seed_reader
from tasks.changes import compare_runs, previous_in_series
from tasks.checks import check_dialogs
from tasks.diversity import diversity_of_run
from tasks.forecast import forecast_table, sample_seeds
from tasks.judge import judge_task
from tasks.pool.plan import APIPlan
from tasks.pool.report import pool_report
from tasks.pool.synthesize import Growth, grow_nodes_task, synthesize_apis_task
from tasks.rules import rules_for
from tasks.simulation import simulate_task, write_instructions_task
from tasks.statistics import corpus_statistics
from tasks.toolset import build_tools_task

EXIT_OK, EXIT_BUG, EXIT_INPUT, EXIT_STOPPED, EXIT_BUDGET = 0, 1, 2, 3, 4
LARGEST_BATCH = 32
"""Items per task run, at most. A task run costs about 70 ms of CPU (40 in the flow's process, 30 in
Prefect's server, measured by the scale benchmark on 2 cores): a few ms an item in a batch of 16, 2 in
one of 32. A batch never holds more items than `--concurrency` (they are worked at the same time)."""
SERVED_FIRST = ["judge", "simulation", "instructions", "toolset", "pool"]
"""Waiting model calls get a free slot in this order: a dialogue under way before a new tool."""


def batch_size(items: int, concurrency: int) -> int:
    """Items per task run: enough task runs that `IN_FLIGHT` x `concurrency` items can be at work,
    1 to `LARGEST_BATCH` (a batch works its items at the same time)."""
    return max(1, min(LARGEST_BATCH, math.ceil(items / (IN_FLIGHT * concurrency)), concurrency))


def steps(
    config: CorpusConfig, run: CorpusRun, run_id: str, runner: TaskRunner[Any], workers: int
) -> list[Stage]:
    """The run's steps, in order: what each does, in what batches, and where its outputs go (`to`);
    each step's task runs are submitted to `runner` (threads, or `workers` Dask worker processes).

    [pool steps ->] toolset -> instructions -> simulation -> checks (the rule layer) -> judge (the
    model layer, unless `--judge off`), each step's outputs to the next one the run has; the
    corpus-wide dedup of requests follows once all are filed (`flows.request_dedup`)."""
    llm, settings, filing = llm_for_tasks(config.llm, workers), config.simulation, run.filing
    at_work = IN_FLIGHT * config.llm.concurrency  # items under way per step: a batch's wait for its slowest
    chosen = [name for name in ("toolset", "instructions", "simulation") if name in config.stages]
    after = dict(zip(chosen, [*chosen[1:], None], strict=True))
    toolset = Stage(
        "toolset",
        submit=lambda seeds: submit_batch(
            runner,
            build_tools_task,
            {"seeds": seeds, "settings": config.toolset, "llm": llm, "run_id": run_id},
        ),
        handle=filing.file_tools,
        to=after.get("toolset"),
        batch_size=LARGEST_BATCH,  # until `size_batches` knows how many tools to expect
        limit=at_work,
    )
    instructions = Stage(
        "instructions",
        submit=lambda tools: submit_batch(
            runner,
            write_instructions_task,
            {"tools": tools, "settings": settings, "llm": llm, "run_id": run_id},
        ),
        handle=filing.file_instructions,
        to=after.get("instructions"),
        batch_size=LARGEST_BATCH,
        limit=at_work,
    )
    simulation = Stage(  # one tool's instructions per task run
        "simulation",
        submit=lambda units: submit_batch(
            runner,
            simulate_task,
            {"tool": units[0].tool, "instructions": units[0].instructions}
            | {"settings": settings, "llm": llm, "run_id": run_id}
            | ({"candidates": units[0].candidates, "toolset": config.toolset} if units[0].candidates else {}),
        ),
        handle=filing.file_simulated,
        to="checks",
        batch_size=1,
        limit=at_work,
        weight=lambda unit: len(unit.instructions),
    )
    checks = Stage(
        "checks",
        run=functools.partial(check_dialogs, rules=rules_for(config.verification.quality)),
        handle=filing.file_checked_for_judge if run.judging else filing.file_checked,
        to="judge" if run.judging else None,
        batch_size=100,
        limit=10_000,
    )
    judge = Stage(
        "judge",
        submit=lambda dialogs: submit_batch(
            runner,
            judge_task,
            {"dialogs": dialogs, "mode": config.judge_mode(), "llm": llm, "run_id": run_id},
        ),
        handle=filing.file_judged,
        batch_size=min(LARGEST_BATCH, config.llm.concurrency),
        limit=at_work,
    )
    verification = [checks, judge] if run.judging else [checks]
    by_name = {
        "toolset": [toolset],
        "instructions": [instructions],
        "simulation": [simulation, *verification],
    }
    return [
        *pool_steps(config, run, run_id, runner, llm),
        *(stage for name in chosen for stage in by_name[name]),
    ]


def pool_steps(
    config: CorpusConfig, run: CorpusRun, run_id: str, runner: TaskRunner[Any], llm: Any
) -> list[Stage]:
    """The API pool's steps, before the toolset (`--evolve N`): taxonomy (nodes grown, and below them
    more, until the taxonomy is whole: then the first generation's plans) -> pool (APIs synthesized,
    generation by generation; each kept API joins the toolset's queue)."""
    if run.pool is None:
        return []
    at_work = IN_FLIGHT * config.llm.concurrency
    batch = min(LARGEST_BATCH, config.llm.concurrency)
    growth = Stage(
        "taxonomy",
        submit=lambda growths: submit_batch(
            runner, grow_nodes_task, {"growths": growths, "llm": llm, "run_id": run_id}
        ),
        handle=run.pool.file_growths,
        to={Growth: "taxonomy", APIPlan: "pool"},
        batch_size=batch,
        limit=at_work,
    )
    apis = Stage(
        "pool",
        submit=lambda plans: submit_batch(
            runner, synthesize_apis_task, {"plans": plans, "llm": llm, "run_id": run_id}
        ),
        handle=run.pool.file_apis,
        to={APIPlan: "pool", PoolAPI: "toolset"},
        batch_size=batch,
        limit=at_work,
    )
    return [growth, apis]


def size_batches(scheduler: Scheduler, tools: int, concurrency: int) -> None:
    """Batches of the toolset and instruction steps sized for `tools` tools (`batch_size`)."""
    for name in ("toolset", "instructions"):
        if name in scheduler.by_name:
            scheduler.by_name[name].batch_size = batch_size(tools, concurrency)


def start(run: CorpusRun, store: RunStore, scheduler: Scheduler) -> None:
    """A new run: the selected seeds for the toolset, or an earlier run's outputs (`--from-run`)."""
    config, ledger, run_id = run.config, run.ledger, run.writer.run_id
    if "toolset" in config.stages:
        seeds, problems, seed_inputs = load_seeds(config)
        ledger.inputs |= seed_inputs  # beside what the run's units noted (the test sets read)
        ledger.notes += [str(p) for p in problems]
        if problems:
            print(seed_reader.summarize_problems(problems), file=sys.stderr)
        offered = None
        if config.forecast.sample:  # a forecast's sample run: its seeds are built, the run's are offered
            offered = without_duplicates(seeds)
            seeds = sample_seeds(seeds, config.forecast.sample)
        run.parts.seeds.add(seeds)
        run.parts.seeds.flush(empty=True)
        kept: list[Seed] = []
        if not config.pool.only:  # else the seed list gives the pool its domains (and its dedup); no tools
            ledger.expect("toolset", len(seeds))
            kept = drop_duplicate_seeds(seeds, run.parts.rejected_tools, ledger, run.board)
            run.units.index(kept if offered is None else offered)
        size_batches(scheduler, len(kept) + config.pool.size, config.llm.concurrency)
        scheduler.by_name["toolset"].source = iter(kept)
        if run.pool is not None:
            scheduler.deliver("taxonomy", run.pool.start(pool_categories(seeds), known_apis(seeds)))
        return
    starts_at_simulation = "instructions" not in config.stages
    from_id = earlier_run(store, config.from_run or "latest", starts_at_simulation)
    ledger.inputs["from_run"] = from_id
    names = ["seeds", "tools", "rejected_tools", *(["instructions"] if starts_at_simulation else [])]
    copy_run(store, from_id, names, run.writer, config.parts.rows)
    if starts_at_simulation:
        ledger.tools_with_instructions |= tools_with_instructions(store, run_id)
    run.units.index(store.iter_records(run_id, "seeds", Seed), duplicate_seed_ids(store, run_id))
    if starts_at_simulation:
        scheduler.feed("simulation", waiting_simulations(store, run_id, set(), run.units))
    else:
        tools = list(store.iter_records(run_id, "tools", Tool))
        size_batches(scheduler, len(tools), config.llm.concurrency)
        scheduler.feed("instructions", tools)


def resume(run: CorpusRun, store: RunStore, scheduler: Scheduler) -> None:
    """A resumed run: each step takes up the items its parts do not hold yet."""
    run_id, ledger, config = run.writer.run_id, run.ledger, run.config
    take_up(ledger, store.read_manifest(run_id))
    done = done_ids(store, run_id, ledger)
    run.units.index(store.iter_records(run_id, "seeds", Seed), duplicate_seed_ids(store, run_id))
    waiting = 0
    if "toolset" in config.stages:
        seeds = [s for s in store.iter_records(run_id, "seeds", Seed) if s.seed_id not in done["toolset"]]
        seeds = [] if config.pool.only else seeds
        ledger.expect("toolset", len(seeds))
        scheduler.by_name["toolset"].source = iter(seeds)
        waiting = len(seeds)
        if run.pool is not None:
            apis = [a for a in store.iter_records(run_id, "apis", PoolAPI) if a.api_id not in done["toolset"]]
            scheduler.feed("toolset", apis)
            listed = list(store.iter_records(run_id, "seeds", Seed))  # the run's seed list, as filed
            pool_next = run.pool.resume(store, run_id, pool_categories(listed), known_apis(listed))
            scheduler.deliver("taxonomy", pool_next)
            waiting += len(apis) + config.pool.size
    if "instructions" in config.stages:
        tools = store.iter_records(run_id, "tools", Tool)
        scheduler.feed("instructions", [t for t in tools if t.tool_id not in done["instructions"]])
        waiting += scheduler.by_name["instructions"].waiting()
    size_batches(scheduler, waiting, config.llm.concurrency)
    if "simulation" in config.stages:
        scheduler.feed("simulation", waiting_simulations(store, run_id, done["simulation"], run.units))


def pool_categories(seeds: list[Seed]) -> list[str]:
    """The seed list's categories, in the order they first appear: the pool's first domains."""
    return list(dict.fromkeys(seed.category for seed in seeds))


def known_apis(seeds: list[Seed]) -> list[tuple[str, str]]:
    """The seed list's APIs as the pool's dedup sees them: a synthesized API must not repeat one."""
    return [(seed.seed_id, api_text(seed.name, seed.description)) for seed in seeds]


def forecast_given(run: CorpusRun, resumed: bool) -> Forecast | None:
    """The forecast of this run's work, when one was made (`flows/forecast.py`), a copy kept in the
    run's folder (where a resumed run finds it again)."""
    config, writer = run.config, run.writer
    if config.forecast.sample or "toolset" not in config.stages:
        return None
    if resumed:
        with contextlib.suppress(FileNotFoundError):
            return Forecast.model_validate_json(writer.store.read_file(writer.run_id, FORECAST_JSON))
        return None
    forecast = given_forecast(config, run.ledger.inputs["seeds_parsed"])
    if forecast is not None:
        writer.write_file(FORECAST_JSON, forecast.model_dump_json(indent=2).encode() + b"\n", None)
    return forecast


def finish(run: CorpusRun, store: RunStore, report: RunReport) -> None:
    """The run's summary in the UI (counts, pass rates per check, diversity figures); for a run of a
    series, what changed since its previous run."""
    run_id, series, ledger = run.writer.run_id, run.config.series, run.ledger
    if run.pool is not None:
        finish_pool(run, store)
    ledger.checks = check_stats(store, run_id) + ([ledger.dedup_stats] if ledger.dedup_stats else [])
    ledger.diversity = diversity_of_run(store, run_id)
    if series:
        ledger.changes = compare_runs(store, series, previous_in_series(store, series, run_id), run_id)
    usage, tools = run.gateway.ledger.summary(), list(ledger.summary_rows())
    ledger.statistics = corpus_statistics(store, run_id, usage)
    rejections = Counter({(r.step, r.rule): r.count for r in ledger.statistics.rejections})
    dialogs_by: dict[str, Counter[tuple[str, str]]] = {"type": Counter(), "complexity": Counter()}
    for name, status in (("dialogs", "accepted"), ("rejected_dialogs", "rejected")):
        if store.has_artifact(run_id, name):
            for column, field in (("type", "dialog_type"), ("complexity", "complexity_band")):
                values = store.read_column(run_id, name, field)
                dialogs_by[column].update((str(value), status) for value in values)
    report.finish(
        ledger.stage_stats(), rejections, usage, tools, ledger.changes, dialogs_by, ledger.checks,
        ledger.diversity, ledger.statistics, ledger.forecast_check(usage),
        ledger.concurrency_history(),
    )  # fmt: skip


def finish_pool(run: CorpusRun, store: RunStore) -> None:
    """The pool's diversity report (`pool.md` in the run folder), and a note when it kept fewer APIs
    than asked for."""
    assert run.pool is not None
    run_id, size = run.writer.run_id, run.config.pool.size
    if run.outcomes.stopped is None and run.ledger.budget.stopped is None and run.pool.kept < size:
        run.ledger.notes.append(
            f"pool: kept {run.pool.kept} of {size} APIs: {run.pool.next_index} were proposed, the most "
            f"allowed ({run.config.pool.max_proposals:g} x size); the rest were rejected (see rejected_apis)"
        )
    run.writer.write_file("pool.md", pool_report(store, run_id).markdown().encode(), None)


def check_stats(store: RunStore, run_id: str) -> list[CheckStats]:
    """Pass rates per check of the rule and judge layers, from the verdicts the run's dialogues carry
    (accepted and rejected), part by part."""
    seen: Counter[tuple[str, str]] = Counter()
    passed: Counter[tuple[str, str]] = Counter()
    for name in ("dialogs", "rejected_dialogs"):
        if store.has_artifact(run_id, name):
            for verdicts in store.read_column(run_id, name, "verdicts"):
                for verdict in verdicts or []:  # type: ignore[union-attr]
                    if verdict["layer"] == "dedup":
                        continue  # only the dropped carry it: the pass counts its own (`dedup_stats`)
                    key = (verdict["layer"], verdict["check"])
                    seen[key] += 1
                    passed[key] += bool(verdict["passed"])
    return [
        CheckStats(
            check=check,
            layer=layer,
            dialogs=n,
            passed=passed[(layer, check)],
            pass_rate=passed[(layer, check)] / n,
        )  # type: ignore[arg-type]
        for (layer, check), n in seen.items()
    ]


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
def corpus_flow(
    config: CorpusConfig,
    run_id: str | None = None,
    resume_run: bool = False,
    workers: int | None = None,
    progress_every: float = HEARTBEAT_S,
) -> str:
    """Seeds -> toolset -> instructions -> simulation -> checks, streamed to `<out>/runs/<run_id>/`;
    returns that folder. With `resume_run`, the run `run_id` is continued in place. The batches run on
    the task runner `config.execution` names (`flows/execution.py`; `workers`: Dask workers, counted
    when not given). Not on a TTY, a progress line comes at least every `progress_every` seconds.

    The models are checked first (`check_models`; free when `run` just did), so a broken one fails
    the run before its folder exists. A model that fails every call midway stops the run: what was
    finished is written, the manifest says `failed` and why, and `RunStopped` is raised. A run that
    reaches its budget (`flows/budget.py`) ends the same way with status `stopped`: `BudgetSpent`.

    With `config.forecast.enabled` the run is forecast instead (`flows/forecast.py`): a sample of its
    seeds is run (this flow, as a subflow, into `<out>/forecasts/`), and the path of the forecast's
    `forecast.json` is returned.
    """
    quiet_garbage_collector()
    config = with_secret_key(config)
    store = RunStore(config.out)
    run_id = run_id or store.new_run_id()
    if config.forecast.enabled:  # the sample's run, then the forecast: `flows/forecast.py`
        close_gateway(run_id)  # the inputs' check made it; the sample's calls need their own (refreshed)
        sample = functools.partial(corpus_flow, workers=workers, progress_every=progress_every)
        return forecast_run(config, run_id, sample)
    gateway = gateway_for(config.llm, run_id)
    try:
        check_models(gateway, roles_for(config))
        refuse_unpriced(config.llm, config.budget, roles_for(config))
        workers = workers or dask_workers(config)
        writer = store.resume_run(run_id) if resume_run else store.start_run(run_id)
    except BaseException:
        close_gateway(run_id)
        raise
    gateway.serve_first(SERVED_FIRST)
    board = ProgressBoard(gateway, every_s=progress_every)
    run, report = CorpusRun(config, writer, gateway, board), RunReport(board)
    board.begin(f"corpus run {run_id}: {'resumed' if resume_run else 'started'}: {', '.join(board.stages)}")
    ledger, outcomes = run.ledger, run.outcomes
    runner = task_runner(config, workers)
    tick = lambda task_runs: (ledger.tick(task_runs), report.update(), report.notes(ledger.notes))  # noqa: E731
    scheduler = Scheduler(
        steps(config, run, run_id, runner, workers),
        tick=tick,
        queued=ledger.expect,
        stop_when=lambda: outcomes.stopped is not None,
        admit=ledger.budget.admit,
    )
    try:
        (resume if resume_run else start)(run, store, scheduler)
        ledger.forecast = forecast_given(run, resume_run)
        report.notes(ledger.notes)
        ledger.write_manifest("running", scheduler.task_runs)
        with runner:
            start_on_workers(runner)
            scheduler.run()
            ledger.worker_concurrency = finish_on_workers(runner, run_id)
        writer.close_parts()
        if outcomes.by_item is not None:
            items = ITEM_USAGES.dump_json(outcomes.by_item, indent=1)
            writer.write_file(ITEM_USAGE_JSON, items, len(outcomes.by_item))
        if outcomes.stopped is None and ledger.budget.stopped is None:
            threshold = config.verification.dedup_threshold
            drop_duplicate_requests(store, run.parts, ledger, board, threshold)
        report.notes(ledger.notes)
        finish(run, store, report)
        if outcomes.stopped is not None:
            raise RunStopped(f"{outcomes.stopped}. The run stopped; what it finished is in {writer.run_dir} "
                             f"(status failed; --resume {run_id} continues it)")  # fmt: skip
    except BaseException as exc:
        board.close()
        report.notes(ledger.notes)
        cause = str(exc) if outcomes.stopped else f"{type(exc).__name__}: {exc}"
        report.logger.error("the run failed: %s", redact(cause))
        if outcomes.stopped is None:
            ledger.notes.append(f"failed: {type(exc).__name__}: {exc}")
        with contextlib.suppress(Exception):
            writer.close_parts()  # what finished is kept
        ledger.write_manifest("failed", scheduler.task_runs)
        with contextlib.suppress(Exception):
            write_html_report(store, run_id, ledger.statistics)  # what the run finished, to look at
        raise
    finally:
        close_gateway(run_id)
    if ledger.budget.stopped is not None:
        ledger.notes.append(f"stopped: {ledger.budget.stopped}")
    ledger.write_manifest("stopped" if ledger.budget.stopped else "completed", scheduler.task_runs)
    write_html_report(store, run_id, ledger.statistics)
    if ledger.budget.stopped is not None:
        board.close()
        raise BudgetSpent(ledger.budget.stop_line(run_id, writer.run_dir))
    writer.publish()
    board.close()
    return writer.run_dir


def run(config: CorpusConfig, resume: str | None = None, progress_every: float = HEARTBEAT_S) -> str:
    """Check the inputs, then run the flow (or resume the run `resume` names, `latest` for the newest
    unfinished one); return the run directory once Prefect has recorded every task run of it.

    Prefect's server (when none is configured) starts in the background while the inputs are checked;
    bad input fails in seconds all the same (InputError), and the server is stopped. Not on a TTY,
    each part says what it does at once, and again every `progress_every` seconds.
    """
    config = with_secret_key(config)
    if resume and config.forecast.enabled:
        raise InputError("--forecast makes a forecast, not a run to resume: leave out --resume or --forecast")
    resumed = resumable_run(writable_store(config), resume, config) if resume else None
    run_id = resumed or RunStore.new_run_id()
    starting = f"corpus run {run_id}: checking the inputs, loading the models, starting Prefect"
    with prefect_api_for(config.execution) as api_ready:
        with phase(starting, progress_every):
            try:
                check_inputs(config, gateway_for(config.llm, run_id), resuming=resumed is not None)
                workers = dask_workers(config)
            except BaseException:
                close_gateway(run_id)
                raise
            api_ready()
        kwargs = {"run_id": run_id, "resume_run": resumed is not None, "workers": workers}
        state = corpus_flow(config, **kwargs, progress_every=progress_every, return_state=True)
        recording = f"corpus run {run_id}: waiting for Prefect to record its task runs"
        with phase(recording, progress_every, announce=False):
            PrefectRecords(
                forecast_store(config).out if config.forecast.enabled else config.out, run_id
            ).wait()
    return state.result()


def main(argv: list[str] | None = None, pool_only: bool = False) -> int:
    """The command line: the run directory as the last line of stdout and exit status 0; else one
    `error:` line on stderr and 2 (bad input or configuration: nothing ran), 3 (the run stopped:
    a model kept failing) or 1 (a bug: its traceback is in the log file); a `stopped:` line and 4 when
    the run reached its budget (`--max-cost`, `--max-calls`; `--resume` carries on). A run with an API pool
    prints the pool's diversity report first (`pool_only`: `python -m flows.pool`). With `--forecast`,
    the forecast's table on stderr and the path of its `forecast.json` last on stdout."""
    from flows.cli import parse_command_line

    started = time.monotonic()
    config, options = parse_command_line(argv, pool_only)
    with TerminalLog.for_config(config, options.log_file) as log:
        try:
            run_dir = run(config, resume=options.resume, progress_every=options.progress_every)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT
        except RunStopped as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_STOPPED
        except BudgetSpent as exc:
            print(f"stopped: {exc}", file=sys.stderr)
            return EXIT_BUDGET
        except Exception as exc:
            log.record_exception(exc)
            print(f"error: {type(exc).__name__}: {exc} (traceback in {log.path})", file=sys.stderr)
            return EXIT_BUG
    if config.forecast.enabled:  # run_dir: the forecast's file
        sample_id = posixpath.basename(posixpath.dirname(run_dir))
        forecast = Forecast.model_validate_json(forecast_store(config).read_file(sample_id, FORECAST_JSON))
        print(forecast_table(forecast), file=sys.stderr, flush=True)
        print(run_dir, flush=True)
        return EXIT_OK
    store, run_id = RunStore(config.out), posixpath.basename(run_dir.rstrip("/"))
    if config.pool.size:
        print(store.read_file(run_id, "pool.md").decode("utf-8"), flush=True)
    end = run_end_lines(store.read_manifest(run_id), run_dir, time.monotonic() - started)
    print("\n".join(end), file=sys.stderr, flush=True)
    print(run_dir, flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
