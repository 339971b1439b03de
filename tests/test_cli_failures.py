"""Failure and bad input as a user meets them: `python -m flows.corpus` in a child process, as typed.

What is checked is what a terminal shows (one `error:` line and the exit status, or the run
directory as the last line; never a traceback) and what a run leaves on disk, Prefect's own database
included. The child processes report to the session's Prefect server (`prefect_server`) and talk to
`bench.fake_llm_server` on loopback; no test reaches beyond this machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bench import responders
from bench.fake_llm_server import FakeLLMServer
from tests.support.prefect_server import task_runs_in

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SEEDS_MD = (
    "### Animals\n| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n"
    "| [Cat Facts](https://catfact.example.org) | Daily cat facts | No | Yes | No |\n"
    "| [Dog API](https://dog.example.org) | Pictures of dogs by breed | No | Yes | Yes |\n"
)
PASSWORD = "pw-Zq8ToolForgeSecret"
API_KEY = "sk-toolforge-test-Kx93hf02HfQ8sL1"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=responders.toolforge, seed=7) as fake:
        yield fake


def cli(
    args: list[str],
    tmp_path: Path,
    prefect_home: Path,
    env: dict[str, str] | None = None,
    *,
    own_server: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python -m flows.corpus ARGS` with a private cache and out folder, and no key in its environment
    unless `env` gives one; it reports to the session's Prefect server, or with `own_server` starts
    its own (the ephemeral one a user without a server gets)."""
    dropped = ("OPENAI", "ANTHROPIC", "PREFECT_API" if own_server else "PREFECT_API_KEY")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    clean |= {"PREFECT_HOME": str(prefect_home), "TOOLFORGE_CACHE_DIR": str(tmp_path / "cache")}
    clean |= env or {}
    command = [sys.executable, "-m", "flows.corpus", "--out", str(tmp_path / "out"), *args]
    return subprocess.run(command, cwd=REPO, env=clean, capture_output=True, text=True, timeout=900)


def seeds(tmp_path: Path, text: str = SEEDS_MD, name: str = "apis.md") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def assert_one_error_line(done: subprocess.CompletedProcess[str], status: int, *parts: str) -> str:
    """The command exited with `status` and said one `error:` line holding every part; no traceback."""
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: "), done.stderr
    assert [line for line in lines if line.startswith("error:")] == [lines[-1]]
    for part in parts:
        assert part in lines[-1], lines[-1]
    assert done.stdout == ""
    return lines[-1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prefect_servers_of(prefect_home: Path) -> list[int]:
    """Pids of Prefect API servers running for `prefect_home` (the ephemeral one a run starts)."""
    pids = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            command = " ".join(process.info["cmdline"] or [])
            if "server:create_app" in command and process.environ().get("PREFECT_HOME") == str(prefect_home):
                pids.append(process.pid)
        except psutil.Error:
            continue
    return pids


# -- bad input: one line, nothing run ---------------------------------------------------------------


def test_a_missing_seed_file_is_one_line(tmp_path, prefect_home):
    done = cli(["--seeds", str(tmp_path / "nowhere.md")], tmp_path, prefect_home)

    assert_one_error_line(done, 2, "seed list not found", "nowhere.md")
    assert not (tmp_path / "out" / "runs").exists()


def test_a_seed_file_without_rows_is_one_line_saying_what_was_looked_for(tmp_path, prefect_home):
    path = seeds(tmp_path, "# My APIs\n\nA page of prose, no table.\n")

    done = cli(["--seeds", path], tmp_path, prefect_home)

    assert_one_error_line(done, 2, path, "no API rows found", "| API | Description | Auth | HTTPS | CORS |")


def test_missing_credentials_stop_the_run_before_it_starts(tmp_path, prefect_home):
    done = cli(["--seeds", seeds(tmp_path), "--model", "gpt-4o-mini"], tmp_path, prefect_home)

    assert_one_error_line(
        done, 2, "roles toolsmith, user, assistant, executor", "model gpt-4o-mini", "set OPENAI_API_KEY"
    )
    assert not (tmp_path / "out" / "runs").exists()


def test_a_server_where_nothing_listens_stops_the_run_before_it_starts(tmp_path, prefect_home):
    api_base = f"http://127.0.0.1:{closed_port()}/v1"
    args = ["--seeds", seeds(tmp_path), "--model", "hosted_vllm/m", "--api-base", api_base]
    args += ["--stages", "toolset"]

    done = cli(args, tmp_path, prefect_home, own_server=True)

    assert_one_error_line(done, 2, "role toolsmith", "model hosted_vllm/m", api_base, "cannot connect")
    assert not (tmp_path / "out" / "runs").exists()
    # Prefect's server, started in the background while the model was checked, did not outlive it
    assert prefect_servers_of(prefect_home) == []


def test_a_model_litellm_cannot_place_is_named(tmp_path, prefect_home):
    done = cli(["--seeds", seeds(tmp_path), "--model", "nowhere-model-9"], tmp_path, prefect_home)

    assert_one_error_line(done, 2, "model nowhere-model-9", "provider/model")


# -- secrets: nowhere a run writes ------------------------------------------------------------------


def test_no_secret_reaches_prefects_database_the_run_the_cache_or_the_log(
    tmp_path, prefect_home, prefect_server, server
):
    """A password in --api-base and a key in the environment, through a whole run with server faults
    (failed calls are retried and logged): neither is in any file the run or Prefect wrote."""
    server.fault_rate, server.fault_kinds = 0.15, ("429", "500")
    api_base = server.base_url.replace("http://", f"http://toolforge:{PASSWORD}@")
    args = ["--seeds", seeds(tmp_path), "--model", "openai/fake-model", "--api-base", api_base]
    args += ["--instructions-per-tool", "2", "--max-attempts", "2"]

    done = cli(args, tmp_path, prefect_home, env={"OPENAI_API_KEY": API_KEY})

    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["config"]["llm"]["api_base"] == server.base_url
    assert sum(server.stats()["faults"].values()) > 0, "no fault was injected: nothing was logged"
    # Prefect's database holds the run, its parameters and its task runs: what is searched is real
    task_runs = prefect_server.task_runs(manifest["flow_run_id"], manifest["task_runs"])
    assert task_runs == {"COMPLETED": manifest["task_runs"]}
    roots = (prefect_home, prefect_server.database.parent, tmp_path / "out", tmp_path / "cache")
    files = [p for root in roots for p in root.rglob("*") if p.is_file()]
    assert prefect_server.database in files
    for path in files:
        data = path.read_bytes()
        assert PASSWORD.encode() not in data, f"the --api-base password is in {path}"
        assert API_KEY.encode() not in data, f"the API key is in {path}"
    assert PASSWORD not in done.stdout + done.stderr and API_KEY not in done.stdout + done.stderr


# -- a clean terminal at any size ---------------------------------------------------------------------


def big_seed_list(count: int) -> str:
    rows = "".join(
        f"| [Api {n}](https://api{n}.example.org) | Records of kind {n} | No | Yes | Yes |\n"
        for n in range(count)
    )
    return "### Numbers\n| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n" + rows


def test_thousands_of_task_runs_end_with_the_run_directory_and_every_record(tmp_path, prefect_home, server):
    """2,000 tools at zero latency: Prefect's server used to fall behind, print shutdown tracebacks
    after the run directory, and lose the task runs it had not written. At concurrency 1 each task
    run holds one tool (`flows.corpus.batch_size`), so the run makes 2,000 task runs. The run starts
    its own server, which stops with it: every task run is in its database when the command ends."""
    path = seeds(tmp_path, big_seed_list(2000))
    args = ["--seeds", path, "--model", "hosted_vllm/fake-model", "--api-base", server.base_url]
    args += ["--stages", "toolset", "--concurrency", "1"]

    done = cli(args, tmp_path, prefect_home, own_server=True)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "Error flushing" not in done.stderr
    run_dir = Path(done.stdout.splitlines()[-1])
    assert done.stdout.endswith(f"{run_dir}\n") and run_dir.is_dir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["task_runs"] == 2000
    assert manifest["artifacts"]["tools"]["rows"] == 2000
    assert task_runs_in(prefect_home / "prefect.db", manifest["flow_run_id"]) == {"COMPLETED": 2000}
