"""What the benchmarks share: the fake LLM server in a child process, and one corpus run against it.

The server runs in its own process so that its CPU is not spent in the measured one. The run uses a
fresh, empty LLM cache and Prefect result store, so every LLM call is a real call.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_SEEDS = REPO.parent / "shared" / "data" / "public-apis" / "README-2022-07.md"
# litellm's route to self-hosted OpenAI-compatible servers (vLLM, llama.cpp server). `--model openai/fake`
# goes through the OpenAI SDK instead: about 1-2 ms more CPU per call (bench/README.md has both figures).
MODEL = "hosted_vllm/fake-model"
TARGET_EFFICIENCY = 0.8

# Offline and quiet, as in the tests; set before prefect and litellm are imported.
ENV_DEFAULTS = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def command_env(prefect_home: Path) -> dict[str, str]:
    """The environment of a command the benchmark starts: offline and quiet (`ENV_DEFAULTS`), with a
    Prefect home of its own and no Prefect server from outside (each run starts its own)."""
    env = {**os.environ, **ENV_DEFAULTS, "PREFECT_HOME": str(prefect_home)}
    env.pop("PREFECT_API_URL", None)
    return env


def accounted_for(manifest: dict[str, Any]) -> bool:
    """Whether a run completed with every item accounted for: each seed a tool or a rejected tool,
    each instruction a dialogue or a rejected one."""
    rows = {name: info["rows"] for name, info in manifest["artifacts"].items()}
    return (
        manifest["status"] == "completed"
        and rows["seeds"] == rows["tools"] + rows["rejected_tools"]
        and rows["instructions"] == rows["dialogs"] + rows["rejected_dialogs"]
    )


def run_folder(command: list[str], env: dict[str, str], what: str) -> Path:
    """Run a corpus command that must succeed and return its run folder (the last line it prints);
    else end the benchmark with `what`, the command's exit status and its last error lines."""
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed ({done.returncode}): {done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def add_common_args(parser: argparse.ArgumentParser, *, latency: float, concurrency: int) -> None:
    parser.add_argument("--latency", type=float, default=latency, help=f"latency per call, s ({latency})")
    parser.add_argument("--concurrency", type=int, default=concurrency, help=f"in flight ({concurrency})")
    parser.add_argument("--model", default=MODEL, help=f"litellm model string for the server ({MODEL})")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="chance of a fault per request (0)")
    parser.add_argument("--fault-kinds", default="429,500,timeout,malformed", help="kinds of injected faults")
    parser.add_argument("--client-timeout", type=float, default=2.0, help="LLM client timeout, s (2.0)")
    parser.add_argument("--seed-file", default=None, help="seed list (default: the shared 2022 snapshot)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir (run store, cache)")


@contextlib.contextmanager
def scratch_dir(args: argparse.Namespace, prefix: str) -> Iterator[Path]:
    """A temporary folder for the run store and the cache, removed afterwards unless `--keep`."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield scratch
    finally:
        if args.keep:
            print(f"scratch kept: {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def print_efficiency(ideal_s: float, wall_s: float) -> None:
    efficiency = ideal_s / wall_s
    verdict = "PASS" if efficiency >= TARGET_EFFICIENCY else "BELOW TARGET"
    print(f"efficiency: {efficiency:.3f} (target >= {TARGET_EFFICIENCY}) {verdict}")


@dataclass
class FakeServer:
    """`python -m bench.fake_llm_server` in a child process."""

    process: subprocess.Popen[str]
    base_url: str
    stderr: Path

    def stats(self) -> dict[str, Any]:
        """Stop the server; the counters it printed on stopping."""
        self.process.terminate()
        self.process.wait(timeout=30)
        for line in self.stderr.read_text(encoding="utf-8").splitlines():
            if line.startswith("fake LLM server stopped: "):
                return json.loads(line.split(": ", 1)[1])
        raise RuntimeError(f"the fake server printed no counters; see {self.stderr}")


@contextlib.contextmanager
def fake_server(args: argparse.Namespace, scratch: Path, options: Sequence[str] = ()) -> Iterator[FakeServer]:
    """The fake server answering every ToolForge request with a valid canned answer, after `latency`;
    `options` are more of its command-line options (`--rpm 600`, `--saturate 16`)."""
    command = [
        sys.executable, "-m", "bench.fake_llm_server",
        "--latency", str(args.latency),
        "--fault-rate", str(args.fault_rate),
        "--fault-kinds", args.fault_kinds,
        "--timeout", str(args.client_timeout * 2),  # a "timeout" fault outlasts the client's timeout
        "--responder", f"bench.responders:{getattr(args, 'responder', 'toolforge')}",
        *options,
    ]  # fmt: skip
    stderr = scratch / "fake-llm-server.stderr"
    with stderr.open("w", encoding="utf-8") as err:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    line = process.stdout.readline().strip() if ready else ""
    if not line.startswith("http"):
        process.kill()
        raise RuntimeError(f"the fake LLM server did not start: {stderr.read_text(encoding='utf-8')[-2000:]}")
    server = FakeServer(process, line, stderr)
    try:
        yield server
    finally:
        if process.poll() is None:
            process.kill()


@dataclass
class RunResult:
    manifest: dict[str, Any]
    run_dir: Path
    flow_seconds: float
    server: dict[str, Any]
    litellm_setup_seconds: float

    def stage(self, name: str) -> dict[str, Any]:
        for stage in self.manifest["stages"]:
            if stage["name"] == name:
                return stage
        raise KeyError(f"the manifest has no {name} stage")


def run_corpus(args: argparse.Namespace, scratch: Path, **config: Any) -> RunResult:
    """One corpus run against the fake server; `config` holds the CorpusConfig fields besides llm/out."""
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    import agents.llm  # noqa: F401  (first: keeps litellm offline)
    from agents.llm.config import LLMConfig
    from agents.llm.litellm_setup import import_litellm
    from flows import corpus
    from flows.config import CorpusConfig

    # A run sets litellm up at its first model call (a re-run answered from the cache never does):
    # importing it and loading what its first completion needs, about 2.2 s once per process,
    # counted in the process time and printed, kept out of the stage times measured here.
    setup_started = time.perf_counter()
    import_litellm()
    litellm_setup_seconds = time.perf_counter() - setup_started
    with fake_server(args, scratch) as server:
        llm = LLMConfig(
            model=args.model,
            api_base=server.base_url,
            concurrency=args.concurrency,
            cache_dir=str(scratch / "cache"),
            timeout_s=args.client_timeout,
            backoff_base_s=0.1,
            backoff_max_s=1.0,
            max_attempts=8,
        )
        started = time.perf_counter()
        run_dir = Path(corpus.run(CorpusConfig(llm=llm, out=str(scratch / "out"), **config)))
        flow_seconds = time.perf_counter() - started
        stats = server.stats()
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return RunResult(manifest, run_dir, flow_seconds, stats, litellm_setup_seconds)


def seed_file(args: argparse.Namespace) -> Path:
    """The seed list: `--seed-file`, else the shared 2022 public-apis snapshot."""
    path = Path(args.seed_file or SHARED_SEEDS).expanduser()
    if not path.is_file():
        raise SystemExit(f"seed file {path} not found: pass --seed-file (a public-apis README or JSON/CSV)")
    return path


def print_usage(result: RunResult, args: argparse.Namespace) -> None:
    """LLM calls and faults, cross-checked against what the server saw."""
    llm, server = result.manifest["llm"], result.server
    faults = {kind: n for kind, n in server.get("faults", {}).items() if n}
    print(f"LLM calls: {llm['calls']} (attempts retried: {llm['errors']}, cached: {llm['cache_hits']})")
    print(f"fake server: {server['requests']} requests, faults injected: {faults or 'none'}")
    print(f"latency {args.latency:.3f} s, concurrency {args.concurrency}, fault rate {args.fault_rate}")
