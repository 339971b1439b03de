"""Runs of `python -m flows.corpus` (and the other entry points) in child processes, as typed: the
command line against a fake server, the child's environment (the session's Prefect server, no model
key), a run to its end, a run killed midway with SIGKILL, and a run's records for comparison."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from bench.fake_llm_server import FakeLLMServer

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = ["seeds", "tools", "rejected_tools", "instructions", "dialogs", "rejected_dialogs", "rejections"]
CONCURRENCY = 4
KILL_WITHIN_S = 300


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
    """This process's environment without model keys, with `prefect_home`: the Prefect server is the
    one in `PREFECT_API_URL` (the session's, set by the `prefect_server` fixture)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "PREFECT_API_KEY"))}
    return env | {"PREFECT_HOME": str(prefect_home)}


def cli(args: list[str], prefect_home: Path) -> subprocess.CompletedProcess[str]:
    env = environment(prefect_home)
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


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
    deadline = time.monotonic() + KILL_WITHIN_S
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
        raise AssertionError(f"no part of {artifact} was written within {KILL_WITHIN_S} s")
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
