"""A run killed midway (SIGKILL, as by a crash or the OOM killer), then resumed or simply run again.

The command runs in a child process against `bench.fake_llm_server` on loopback. The killed run keeps
what its parts hold and never becomes `latest` or `completed`; resumed in place (`--resume`), or run
again from scratch with the same cache, it ends with the records of an uninterrupted run, and pays
again for no more than the model calls in flight at the kill.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from bench import responders
from bench.fake_llm_server import FakeLLMServer
from storage.run_store import RunStore
from tests.support.cli_runs import (
    CONCURRENCY,
    REPO,
    cli,
    command,
    environment,
    kill_midway,
    records,
    run_to_end,
    seeds_file,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def module_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.15) as fake:
        yield fake


@pytest.fixture
def server(module_server: FakeLLMServer) -> FakeLLMServer:
    """The module's fake server, its counters at zero."""
    module_server.reset_counters()
    return module_server


@dataclass(frozen=True)
class Uninterrupted:
    seeds: Path
    run_dir: Path
    calls: int


@pytest.fixture(scope="module")
def uninterrupted(
    module_server: FakeLLMServer, prefect_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Uninterrupted:
    """The run the killed ones are compared with, made once for the module (its own cache)."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    seeds = seeds_file(folder)
    module_server.reset_counters()
    whole = run_to_end(command(seeds, module_server, folder / "whole", folder / "cache-whole"), prefect_home)
    return Uninterrupted(seeds, whole, module_server.completions)


@dataclass
class Crash:
    """An uninterrupted run, and the same command killed midway (each with its own cache)."""

    whole: Path
    args: list[str]
    killed: Path
    uninterrupted_calls: int
    killed_calls: int

    def paid_twice(self, later_calls: int) -> int:
        """Calls paid beyond the uninterrupted run's (each invocation checks the model with one call)."""
        return (self.killed_calls - 1) + (later_calls - 1) - (self.uninterrupted_calls - 1)


def crash(tmp_path: Path, server: FakeLLMServer, prefect_home: Path, whole: Uninterrupted) -> Crash:
    args = command(whole.seeds, server, tmp_path / "out", tmp_path / "cache")
    killed = kill_midway(args, tmp_path / "out", prefect_home)
    killed_calls = server.completions
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "running"  # never completed, and never latest
    assert not (tmp_path / "out" / "latest").exists()
    store = RunStore(str(tmp_path / "out"))
    finished = [store.read_column(killed.name, n, "dialog_id") for n in ("dialogs", "rejected_dialogs")]
    assert 0 < len(finished[0]) + len(finished[1]) < 36
    return Crash(whole.run_dir, args, killed, whole.calls, killed_calls)


def test_a_killed_run_resumed_in_place_equals_an_uninterrupted_run(
    tmp_path, prefect_home, server, uninterrupted
):
    crashed = crash(tmp_path, server, prefect_home, uninterrupted)
    before = server.completions
    resumed = run_to_end([*crashed.args, "--resume", crashed.killed.name], prefect_home)

    assert resumed == crashed.killed
    manifest = json.loads((resumed / "manifest.json").read_text())
    assert manifest["status"] == "completed" and len(manifest["resumed"]) == 1
    assert (tmp_path / "out" / "latest").read_text().strip() == resumed.name
    assert records(resumed) == records(crashed.whole)
    assert 0 <= crashed.paid_twice(server.completions - before) <= CONCURRENCY


def test_the_same_command_again_after_a_kill_pays_only_for_what_was_in_flight(
    tmp_path, prefect_home, server, uninterrupted
):
    crashed = crash(tmp_path, server, prefect_home, uninterrupted)
    before = server.completions
    again = run_to_end(crashed.args, prefect_home)

    assert again != crashed.killed
    assert json.loads((crashed.killed / "manifest.json").read_text())["status"] == "running"
    assert (tmp_path / "out" / "latest").read_text().strip() == again.name
    assert records(again) == records(crashed.whole)
    assert 0 <= crashed.paid_twice(server.completions - before) <= CONCURRENCY


def test_two_runs_started_at_once_into_one_out_both_complete(tmp_path, prefect_home, server):
    seeds = seeds_file(tmp_path, count=4)
    args = command(seeds, server, tmp_path / "out", tmp_path / "cache", "--stages", "toolset")
    env = environment(prefect_home)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    processes = [subprocess.Popen(args, cwd=REPO, env=env, **pipes) for _ in range(2)]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    run_dirs = {Path(out.strip().splitlines()[-1]) for out, _ in outputs}
    assert len(run_dirs) == 2 and {d.parent for d in run_dirs} == {tmp_path / "out" / "runs"}
    for run_dir in run_dirs:
        assert json.loads((run_dir / "manifest.json").read_text())["status"] == "completed"
        assert len(pd.read_parquet(run_dir / "tools")) == 4
    assert (tmp_path / "out" / "latest").read_text().strip() in {d.name for d in run_dirs}


def test_resume_refuses_a_completed_run_and_other_settings(tmp_path, prefect_home, server):
    seeds = seeds_file(tmp_path, count=2)
    args = command(seeds, server, tmp_path / "out", tmp_path / "cache", "--stages", "toolset")
    run_dir = run_to_end(args, prefect_home)

    done = cli([*args, "--resume", run_dir.name], prefect_home)
    assert done.returncode == 2 and "completed; there is nothing to resume" in done.stderr

    manifest = json.loads((run_dir / "manifest.json").read_text())
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "status": "failed"}))
    done = cli([*args, "--resume", run_dir.name, "--temperature", "0.9"], prefect_home)
    assert done.returncode == 2 and "llm.temperature: 0.3 then, 0.9 now" in done.stderr
