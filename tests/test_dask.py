"""`--task-runner dask`: the batches run in Dask worker processes and the run is the threaded run.

The command runs in a child process against `bench.fake_llm_server` on loopback, once with threads
and once on a local cluster of two worker processes (each with its own cache folder), and the two
runs' records are compared. The fake server counts the chat completions under way at once: the
workers' shares of `--concurrency` never add up to more. Run again on the cache the workers wrote,
the same command pays for no answer a second time. Dask's sampling profiler, which can deadlock a
worker on Python before 3.12, is off in a run's own cluster and stopped on a running one.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import LocalCluster
from prefect_dask import DaskTaskRunner

from bench import responders
from bench.fake_llm_server import FakeLLMServer
from flows.config import CorpusConfig, ExecutionSettings
from flows.execution import PROFILER_CALLBACKS, finish_on_workers, start_on_workers, task_runner
from tests.support.cli_runs import CONCURRENCY, REPO, command, environment, records, seeds_file
from tests.support.prefect_server import PrefectServer

pytestmark = pytest.mark.dask


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.05) as fake:
        yield fake


def run(args: list[str], prefect_home: Path) -> tuple[Path, dict, str]:
    done = subprocess.run(
        args, cwd=REPO, env=environment(prefect_home), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(done.stdout.splitlines()[-1])
    return run_dir, json.loads((run_dir / "manifest.json").read_text()), done.stderr


def test_a_dask_run_equals_the_threaded_run(
    tmp_path: Path, prefect_home: Path, prefect_server: PrefectServer, server: FakeLLMServer
):
    seeds = seeds_file(tmp_path, count=6)
    threaded_dir, threaded, _ = run(command(seeds, server, tmp_path / "out", tmp_path / "c1"), prefect_home)
    threaded_calls = server.completions
    server.reset_counters()

    dask = ["--task-runner", "dask", "--dask-workers", "2"]
    dask_run = command(seeds, server, tmp_path / "out", tmp_path / "c2", *dask)
    dask_dir, manifest, stderr = run(dask_run, prefect_home)

    assert manifest["status"] == "completed" and manifest["config"]["execution"]["task_runner"] == "dask"
    assert records(dask_dir) == records(threaded_dir)
    assert manifest["llm"]["calls"] == threaded["llm"]["calls"] == threaded_calls == server.completions
    assert [row["calls"] for row in manifest["llm"]["by_stage_role"]] == [
        row["calls"] for row in threaded["llm"]["by_stage_role"]
    ], "the manifest adds up the usage of every worker"
    assert 1 < server.peak_in_flight <= CONCURRENCY
    assert "Traceback" not in stderr
    # the workers' task runs reached Prefect's server, every one of them finished
    task_runs = prefect_server.task_runs(manifest["flow_run_id"], manifest["task_runs"])
    assert task_runs == {"COMPLETED": manifest["task_runs"]}

    server.reset_counters()
    again_dir, again, _ = run(dask_run, prefect_home)
    assert records(again_dir) == records(dask_dir)
    assert server.completions <= 1, "answers the workers cached were paid again (only the model check may be)"
    assert again["llm"]["cache_hits"] > 0


def test_a_dask_runs_manifest_lists_its_workers_concurrency_changes(
    tmp_path: Path, prefect_home: Path, prefect_server: PrefectServer
):
    # 12 requests a second (a short window stands for a minute): each worker's gateway meets 429s
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.05, rpm=12, limit_window_s=1.0) as server:
        seeds = seeds_file(tmp_path, count=3)
        args = command(seeds, server, tmp_path / "out", tmp_path / "c", "--task-runner", "dask")
        _, manifest, _ = run([*args, "--dask-workers", "2"], prefect_home)
        refused = server.limited

    assert manifest["status"] == "completed" and refused > 0
    on_workers = [change for change in manifest["concurrency"] if change["worker"] is not None]
    assert on_workers, "the workers' changes are in the manifest, each labelled with its worker"
    assert all(change["ceiling"] == CONCURRENCY // 2 for change in on_workers)  # a worker's share


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--dask-workers", "5"], "--dask-workers has 5 workers but --concurrency is 4"),
        (["--dask-address", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
    ],
)
def test_a_dask_cluster_that_cannot_serve_the_run_is_one_line(
    tmp_path: Path, prefect_home: Path, server: FakeLLMServer, extra: list[str], says: str
):
    seeds = seeds_file(tmp_path, count=2)
    args = command(seeds, server, tmp_path / "out", tmp_path / "c", "--task-runner", "dask")
    done = subprocess.run(
        [*args, *extra], cwd=REPO, env=environment(prefect_home), capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: {says}")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "runs").exists() or not any((tmp_path / "out" / "runs").iterdir())


def profiling(dask_worker: Any) -> list[str]:
    """Run on a worker: its periodic callbacks of the sampling profiler that are running."""
    callbacks = dask_worker.periodic_callbacks
    return sorted(name for name in PROFILER_CALLBACKS if name in callbacks and callbacks[name].is_running())


def test_the_workers_of_a_runs_own_cluster_do_not_profile(prefect_home: Path):
    config = CorpusConfig(execution=ExecutionSettings(task_runner="dask", dask_workers=2))
    with task_runner(config, workers=2) as runner:
        assert list(runner.client.run(profiling).values()) == [[], []]


def test_a_running_cluster_stops_profiling_where_python_can_deadlock_on_it(
    prefect_home: Path, caplog: pytest.LogCaptureFixture
):
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, DaskTaskRunner(address=cluster.scheduler_address) as runner:
        assert list(runner.client.run(profiling).values()) == [["profile", "profile-cycle"]]
        with caplog.at_level(logging.WARNING, logger="flows.execution"):
            start_on_workers(runner)
        left = list(runner.client.run(profiling).values())

    if sys.version_info < (3, 12):
        assert left == [[]]
        (warning,) = [r.getMessage() for r in caplog.records if r.name == "flows.execution"]
        assert "stopped the sampling profiler of 1 Dask worker(s)" in warning and "gh-106883" in warning
    else:
        assert left == [["profile", "profile-cycle"]] and not caplog.records


def throttle_a_gateway(run_id: str) -> None:
    """Run on a worker: the run's gateway in that process refuses one call for load (8 -> 6)."""
    from agents.llm.config import LLMConfig
    from agents.llm.gateway import gateway_for

    limits = gateway_for(LLMConfig(model="openai/m", concurrency=8), run_id).limits
    with limits.admit("openai/m", 0, 0) as admission:
        pass
    limits.throttled(admission, None)


def test_the_workers_concurrency_changes_come_back_labelled_by_worker(prefect_home: Path):
    config = CorpusConfig(execution=ExecutionSettings(task_runner="dask", dask_workers=2))
    with task_runner(config, workers=2) as runner:
        workers = sorted(runner.client.run(throttle_a_gateway, "run-1"))
        changes = finish_on_workers(runner, "run-1")
        assert sorted(change.worker for change in changes) == workers
        made = [(change.model, change.limit, change.ceiling) for change in changes]
        assert made == [("openai/m", 6, 8)] * 2
        assert changes == sorted(changes, key=lambda change: change.at)
        assert finish_on_workers(runner, "run-1") == []  # the workers forgot the run's gateway
    assert finish_on_workers(task_runner(CorpusConfig(), workers=1), "run-1") == []  # threads: none
