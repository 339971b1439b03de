"""Where a run's task runs execute: threads of the flow's process, or the processes of a Dask cluster.

`task_runner(config)` is the Prefect task runner the flow starts (prefect-dask's `DaskTaskRunner` for
`--task-runner dask`: a `LocalCluster` of `--dask-workers` processes, or the running cluster at
`--dask-address`, on any number of machines). What the run shares across its task runs holds across
Dask workers too:
- the bound on LLM calls in flight: each worker process has its own gateway with an equal share of
  `--concurrency` (`llm_for_tasks`), so the shares never add up to more than the bound;
- the LLM cache: one folder (`--cache-dir`, a path every worker sees), each answer written to a
  temporary file and renamed into place, so concurrent writers never leave a torn entry;
- the usage ledger: a batch carries its calls' usage back to the flow, which adds it up;
- the single flight of identical requests: within each worker process (across workers an identical
  request may be paid twice; the cache holds one answer).

Dask workers report their task runs to Prefect's API like the flow does (`flows.prefect_api` names
it to them); a cluster on other machines needs a Prefect server they can reach. At the end of the
run each worker sends what it has not yet sent, and hands back its gateway's history of adaptive
concurrency, which the manifest lists beside the flow process's, labelled by worker
(`finish_on_workers`).

Dask workers sample their threads' stacks (`sys._current_frames()`) every 10 ms for the dashboard's
profile. On Python before 3.12 that call can deadlock the whole worker process when a garbage
collection runs inside it while a thread starts or ends (CPython gh-106883, dask/distributed#8616),
and a batch starts a thread per item: the run then waits for ever on a batch that never ends (two
of three runs of 3,000 seeds on two workers hung so). A run's own cluster has no dashboard, so its
workers do not profile; on a running cluster, `start_on_workers` stops the profiler of each worker
that runs on such a Python, and says so.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from typing import Any

from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from agents.llm.config import LLMConfig
from agents.llm.gateway import close_gateway
from flows.config import CorpusConfig
from schemas.errors import InputError
from schemas.limits import ConcurrencyChange

log = logging.getLogger(__name__)

IN_FLIGHT = 3
"""Items under way per step, in multiples of the calls allowed in flight."""
STEPS_WITH_TASK_RUNS = 3
CONNECT_TIMEOUT_S = 10
PROFILER = "distributed.worker.profile.enabled"
"""Dask's setting for its workers' sampling profiler (passed to each worker of a run's own cluster)."""
PROFILER_CALLBACKS = ("profile", "profile-cycle")
"""The periodic callbacks of a Dask worker that run its sampling profiler."""
DRAIN_TIMEOUT_S = 60


def batches_at_once(config: CorpusConfig) -> int:
    """Task runs that can be under way at once: every batch of every step (a batch of one item at most)."""
    return STEPS_WITH_TASK_RUNS * IN_FLIGHT * config.llm.concurrency + 4


def submit_batch(runner: TaskRunner[Any], task: Any, parameters: dict[str, Any]) -> PrefectFuture[Any]:
    """`runner.submit(task, parameters)`; on threads, each parameter quoted
    (`prefect.utilities.annotations.quote`): Prefect then neither walks a batch's items looking for
    futures to wait on (they hold none) when the task run is submitted, nor again when it starts.
    Walking every field of every seed, tool or dialogue of a batch cost the flow's process about 2% of
    its CPU at the scale benchmark's size. Not on Dask: it takes the annotation (a named tuple) for a
    plain tuple on the way to its workers, and the task would get the tuple."""
    if isinstance(runner, ThreadPoolTaskRunner):
        parameters = {name: quote(value) for name, value in parameters.items()}
    return runner.submit(task, parameters)


def task_runner(config: CorpusConfig, workers: int) -> TaskRunner[Any]:
    """The task runner for the run's batches (`workers`: the Dask workers, `dask_workers` counts)."""
    execution = config.execution
    if execution.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=batches_at_once(config))
    from prefect_dask import DaskTaskRunner

    if execution.dask_address:
        return DaskTaskRunner(address=execution.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": math.ceil(batches_at_once(config) / workers),
            "processes": True,
            "dashboard_address": None,  # no web dashboard (nor its port) for a run's own cluster
            "config": {PROFILER: False},  # nor the profile it would show (see the module's notes)
        }
    )


def dask_workers(config: CorpusConfig) -> int:
    """The worker processes a Dask run's calls are shared among (1 for threads): `dask_workers` for a
    local cluster, the workers the cluster at `dask_address` has now. InputError when the cluster
    cannot be reached or has more workers than `--concurrency` allows calls (each needs one)."""
    execution = config.execution
    if execution.task_runner == "threads":
        return 1
    if execution.dask_address:
        workers = _workers_at(execution.dask_address)
        where = f"the Dask cluster at {execution.dask_address}"
    else:
        workers, where = execution.dask_workers, "--dask-workers"
    if workers > config.llm.concurrency:
        raise InputError(
            f"{where} has {workers} workers but --concurrency is {config.llm.concurrency}: each worker "
            "needs at least one call in flight; raise --concurrency or use fewer workers"
        )
    return workers


def _workers_at(address: str) -> int:
    from distributed import Client

    try:
        with Client(address, timeout=CONNECT_TIMEOUT_S) as client:
            workers = len(client.scheduler_info(n_workers=-1)["workers"])
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    if workers == 0:
        raise InputError(f"the Dask cluster at {address} has no workers")
    return workers


def start_on_workers(runner: TaskRunner[Any]) -> None:
    """On a running Dask cluster, stop the sampling profiler of each worker whose Python can deadlock
    on it (before 3.12), with a warning that names them; nothing on threads or a run's own cluster."""
    client = _dask_client(runner)
    if client is None:
        return
    stopped = sorted(address for address, was in client.run(_stop_profiler).items() if was)
    if stopped:
        log.warning(
            "stopped the sampling profiler of %d Dask worker(s) on Python before 3.12 (%s): it can "
            "deadlock a worker (CPython gh-106883); start workers with "
            "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False to keep it off",
            len(stopped),
            ", ".join(stopped),
        )


def _stop_profiler(dask_worker: Any) -> bool:
    """Run by `Client.run` on a worker: stop its profiler if its Python can deadlock on it; whether
    it was running and is stopped now."""
    if sys.version_info >= (3, 12):
        return False
    running = False
    for name in PROFILER_CALLBACKS:
        callback = dask_worker.periodic_callbacks.get(name)
        if callback is not None and callback.is_running():
            callback.stop()
            running = True
    return running


def finish_on_workers(runner: TaskRunner[Any], run_id: str) -> list[ConcurrencyChange]:
    """Each Dask worker sends its queued Prefect events and logs and forgets the run's gateway; the
    changes of its gateway's adaptive limits, labelled with the worker's address, in time order
    (none with threads: the flow's own gateway holds them)."""
    client = _dask_client(runner)
    if client is None:
        return []
    histories: dict[str, list[dict[str, Any]]] = client.run(_finish_worker, run_id)
    changes = [
        ConcurrencyChange.model_validate({**change, "worker": worker})
        for worker, history in histories.items()
        for change in history
    ]
    return sorted(changes, key=lambda change: change.at)


def _dask_client(runner: TaskRunner[Any]) -> Any:
    """The Dask client of an entered `DaskTaskRunner`; None for threads."""
    return runner.client if type(runner).__name__ == "DaskTaskRunner" else None  # type: ignore[attr-defined]


def _finish_worker(run_id: str) -> list[dict[str, Any]]:
    """Run by `Client.run` on a worker's event loop: the draining (which blocks) goes to a thread.
    Returns the history of the run's gateway in this process (JSON: a worker may run another version
    of the schema's module)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    def drain() -> None:
        EventsWorker.drain_all(timeout=DRAIN_TIMEOUT_S)
        APILogWorker.drain_all(timeout=DRAIN_TIMEOUT_S)

    gateway = close_gateway(run_id)
    sender = threading.Thread(target=drain, name="toolforge-drain")
    sender.start()
    sender.join()
    history = gateway.limits.history() if gateway is not None else []
    return [change.model_dump(mode="json") for change in history]


def llm_for_tasks(llm: LLMConfig, workers: int) -> LLMConfig:
    """The model settings each worker process's gateway gets: an equal share of the calls in flight
    and of the requests and tokens per minute."""
    if workers == 1:
        return llm
    return llm.model_copy(update={"concurrency": llm.concurrency // workers, "limit_share": workers})
