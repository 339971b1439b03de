"""A run killed midway (SIGKILL, as by a crash or the OOM killer), then resumed or simply run again.

The command runs in a child process against `bench.fake_llm_server` on loopback. The killed run keeps
what its parts hold and never becomes `latest` or `completed`; resumed in place (`--resume`), or run
again from scratch with the same cache, it ends with the records of an uninterrupted run, and pays
again for no more than the model calls in flight at the kill.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from bench import responders
from bench.fake_llm_server import FakeLLMServer
from storage.run_store import RunStore

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = ["seeds", "tools", "rejected_tools", "instructions", "dialogs", "rejected_dialogs"]
ARTIFACTS += ["rejections"]
CONCURRENCY = 4


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.15) as fake:
        yield fake


def seeds_file(tmp_path: Path, count: int = 12) -> Path:
    rows = [f"| [Api {n}](https://api{n}.example.org) | Record {n} | No | Yes | Yes |" for n in range(count)]
    header = "### Numbers\n| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n"
    path = tmp_path / "apis.md"
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def command(seeds: Path, server: FakeLLMServer, out: Path, cache: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "flows.corpus", "--seeds", str(seeds), "--out", str(out),
        "--cache-dir", str(cache), "--model", "hosted_vllm/fake-model", "--api-base", server.base_url,
        "--concurrency", str(CONCURRENCY), "--instructions-per-tool", "3",
        "--part-rows", "4", "--part-seconds", "0.5", *extra,
    ]  # fmt: skip


def environment(prefect_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "PREFECT_API"))}
    return env | {"PREFECT_HOME": str(prefect_home)}


def cli(args: list[str], prefect_home: Path) -> subprocess.CompletedProcess[str]:
    env = environment(prefect_home)
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def run_to_end(args: list[str], prefect_home: Path) -> Path:
    done = cli(args, prefect_home)
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


def kill_midway(args: list[str], out: Path, prefect_home: Path, artifact: str = "dialogs") -> Path:
    """Start the command, and kill its whole process group with SIGKILL once the run has written
    parts of `artifact` (its dialogues); the killed run's folder."""
    process = subprocess.Popen(
        args, cwd=REPO, env=environment(prefect_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            parts = list(out.glob(f"runs/*/{artifact}/part-*.parquet"))
            if parts:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
                (run_dir,) = (out / "runs").iterdir()
                return run_dir
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        raise AssertionError(f"no part of {artifact} was written within 300 s")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


def records(run_dir: Path) -> dict[str, list[dict]]:
    """Each artifact's rows, sorted (rows come in the order they were finished)."""
    found = {}
    for name in ARTIFACTS:
        frame = pd.read_parquet(run_dir / name)
        rows = json.loads(frame.to_json(orient="records"))
        found[name] = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))
    return found


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


def crash(tmp_path: Path, server: FakeLLMServer, prefect_home: Path) -> Crash:
    seeds = seeds_file(tmp_path)
    whole = run_to_end(command(seeds, server, tmp_path / "whole", tmp_path / "cache-whole"), prefect_home)
    uninterrupted_calls = server.completions
    args = command(seeds, server, tmp_path / "out", tmp_path / "cache")
    killed = kill_midway(args, tmp_path / "out", prefect_home)
    killed_calls = server.completions - uninterrupted_calls
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "running"  # never completed, and never latest
    assert not (tmp_path / "out" / "latest").exists()
    store = RunStore(str(tmp_path / "out"))
    finished = [store.read_column(killed.name, n, "dialog_id") for n in ("dialogs", "rejected_dialogs")]
    assert 0 < len(finished[0]) + len(finished[1]) < 36
    return Crash(whole, args, killed, uninterrupted_calls, killed_calls)


def test_a_killed_run_resumed_in_place_equals_an_uninterrupted_run(tmp_path, prefect_home, server):
    crashed = crash(tmp_path, server, prefect_home)
    before = server.completions
    resumed = run_to_end([*crashed.args, "--resume", crashed.killed.name], prefect_home)

    assert resumed == crashed.killed
    manifest = json.loads((resumed / "manifest.json").read_text())
    assert manifest["status"] == "completed" and len(manifest["resumed"]) == 1
    assert (tmp_path / "out" / "latest").read_text().strip() == resumed.name
    assert records(resumed) == records(crashed.whole)
    assert 0 <= crashed.paid_twice(server.completions - before) <= CONCURRENCY


def test_the_same_command_again_after_a_kill_pays_only_for_what_was_in_flight(tmp_path, prefect_home, server):
    crashed = crash(tmp_path, server, prefect_home)
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
