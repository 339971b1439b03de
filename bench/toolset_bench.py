"""Toolset-stage throughput benchmark: the real corpus flow against a fake LLM with a fixed latency.

    python -m bench.toolset_bench [--seeds 200] [--latency 0.2] [--concurrency 16] [--fault-rate 0.0]
        [--fault-kinds 429,500,timeout,malformed] [--client-timeout 2.0] [--out DIR] [--seed-file PATH]

It starts `bench.fake_llm_server` in a subprocess (so the server's CPU is not spent in the measured
process), runs `flows.corpus.run` over N seeds with a fresh, empty cache (every LLM call is a real
call), reads the run's manifest and prints the counts, the timings and the efficiency:

    efficiency = (LLM calls x latency / concurrency) / toolset stage wall time

i.e. how close the stage gets to keeping `concurrency` calls in flight all the time (1.0 is the
ideal; the target is >= 0.8). Exit code 0 whenever the run completed and its counts reconcile
(seeds == tools + rejected), even below the target; non-zero otherwise.

It is a benchmark, not a test: `make bench`, or see bench/README.md.
"""

from __future__ import annotations

import time

_PROCESS_T0 = time.perf_counter()  # before the heavy imports (prefect, litellm): part of the process time

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SEED_FILE = REPO.parent / "shared" / "data" / "public-apis" / "README-2022-07.md"
TARGET_EFFICIENCY = 0.8
MODEL = "openai/fake-model"
SERVER_START_TIMEOUT_S = 60.0

# Offline and quiet, as in the tests; set before prefect and litellm are imported (in `run_bench`).
_ENV_DEFAULTS = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}

_SYNTHETIC_CATEGORIES = {
    "Animals": ("Pet", "Bird", "Zoo", "Wildlife"),
    "Books": ("Library", "Novel", "Author", "Quotes"),
    "Finance": ("Exchange", "Stock", "Crypto", "Invoice"),
    "Weather": ("Forecast", "Climate", "Storm", "Air Quality"),
    "Music": ("Lyrics", "Playlist", "Artist", "Radio"),
    "Sports": ("Football", "Tennis", "Cricket", "Olympics"),
    "Transportation": ("Transit", "Flight", "Bike Share", "Parking"),
    "Health": ("Nutrition", "Fitness", "Drug", "Hospital"),
}


# -- seeds --------------------------------------------------------------------------------------------


def write_synthetic_seeds(path: Path, n: int, *, seed: int = 0) -> Path:
    """Write `n` synthetic APIs, spread over several categories, as a public-apis style markdown file."""
    rng = random.Random(seed)
    categories = list(_SYNTHETIC_CATEGORIES)
    by_category: dict[str, list[str]] = {c: [] for c in categories}
    for i in range(n):
        category = categories[i % len(categories)]
        topic = rng.choice(_SYNTHETIC_CATEGORIES[category])
        name = f"{topic} Data {i + 1}"
        slug = name.lower().replace(" ", "-")
        auth = rng.choice(["No", "`apiKey`", "`OAuth`"])
        row = (
            f"| [{name}](https://example.com/{slug}) | {topic} records, search and lookup by id "
            f"| {auth} | Yes | {rng.choice(['Yes', 'No', 'Unknown'])} |"
        )
        by_category[category].append(row)
    lines = ["# Synthetic Public APIs", "", "## Index", ""]
    for category in categories:
        if not by_category[category]:
            continue
        lines += [f"### {category}", "API | Description | Auth | HTTPS | CORS", "|---|---|---|---|---|"]
        lines += by_category[category]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def choose_seed_file(requested: str | None, n: int, scratch: Path) -> tuple[Path, str]:
    """The seed file to read and a line describing it; a generated one if the shared snapshot is absent."""
    if requested:
        path = Path(requested).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"--seed-file {requested}: no such file")
        return path, f"seed file: {path}"
    if DEFAULT_SEED_FILE.is_file():
        return DEFAULT_SEED_FILE, f"seed file: {DEFAULT_SEED_FILE}"
    path = write_synthetic_seeds(scratch / "synthetic-seeds.md", n)
    note = (
        f"seed file: the shared public-apis snapshot was not found at {DEFAULT_SEED_FILE}; "
        f"using {n} generated synthetic APIs in {len(_SYNTHETIC_CATEGORIES)} categories ({path})"
    )
    return path, note


# -- the fake LLM server, in its own process ----------------------------------------------------------


@dataclass
class ServerProcess:
    """`python -m bench.fake_llm_server` running in a child process; its base URL and its stderr file."""

    process: subprocess.Popen[str]
    base_url: str
    stderr_path: Path

    def stop(self) -> dict[str, Any] | None:
        """Terminate the server, wait for it, and return the counters it printed on stopping (if any)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if line.startswith("fake LLM server stopped: "):
                with contextlib.suppress(json.JSONDecodeError):
                    return json.loads(line.split(": ", 1)[1])
        return None


def start_server(args: argparse.Namespace, scratch: Path) -> ServerProcess:
    """Start the fake server subprocess and read its base URL from the first line of its stdout."""
    command = [
        sys.executable,
        "-m",
        "bench.fake_llm_server",
        "--latency",
        str(args.latency),
        "--fault-rate",
        str(args.fault_rate),
        "--fault-kinds",
        args.fault_kinds,
        "--timeout",
        str(args.fault_timeout),
        "--seed",
        str(args.server_seed),
        "--responder",
        "bench.responders:toolforge",
    ]
    stderr_path = scratch / "fake-llm-server.stderr"
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1
        )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], SERVER_START_TIMEOUT_S)
    line = process.stdout.readline().strip() if ready else ""
    if not line.startswith("http"):
        process.kill()
        process.wait()
        detail = stderr_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"the fake LLM server did not start (first line {line!r}):\n{detail}")
    return ServerProcess(process, line, stderr_path)


# -- optional timing of calls and tasks inside the measured process ----------------------------------


@dataclass(frozen=True)
class Span:
    """One timed call: wall-clock start and end (perf_counter) and the CPU its thread spent in it."""

    start: float
    end: float
    cpu: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Trace:
    """Spans of each LLM HTTP attempt, of each task body and of the toolset stage; the pool size."""

    calls: list[Span] = field(default_factory=list)
    bodies: list[Span] = field(default_factory=list)
    stage: list[Span] = field(default_factory=list)  # its `cpu` is the whole process's CPU time
    workers: int | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds spent during the stage, by whom
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(
        self,
        function: Callable[..., Any],
        spans: list[Span],
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), cpu_clock()
            try:
                return function(*args, **kwargs)
            finally:
                span = Span(start, time.perf_counter(), cpu_clock() - cpu)
                with self.lock:
                    spans.append(span)

        return timed


def _proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0.0 where unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _child_pids() -> list[int]:
    """The pids of this process's direct children (the fake server, Prefect's ephemeral API server)."""
    me, children = os.getpid(), []
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == me:
                    children.append(int(entry.name))
    return children


def cpu_snapshot(server_pid: int | None) -> dict[str, float]:
    """CPU seconds so far: this process, the fake server, other children, and the whole machine's
    busy and total CPU time (from /proc/stat, all cores; zeros where /proc is missing)."""
    snapshot = {"process": time.process_time(), "server": 0.0, "children": 0.0, "busy": 0.0, "total": 0.0}
    for pid in _child_pids():
        key = "server" if pid == server_pid else "children"
        snapshot[key] += _proc_cpu_seconds(pid)
    with contextlib.suppress(OSError, ValueError):
        # user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
        ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        snapshot["busy"] = (sum(ticks) - ticks[3] - ticks[4] - ticks[7]) / os.sysconf("SC_CLK_TCK")
        snapshot["total"] = sum(ticks) / os.sysconf("SC_CLK_TCK")
    return snapshot


@contextlib.contextmanager
def traced(server_pid: int | None = None) -> Iterator[Trace]:
    """Time every `litellm.completion` (the gateway's HTTP call; each retry separately), every
    `tasks.toolset.build_tool` (the body of one Prefect task run) and `flows.corpus.build_toolset`
    (the stage, where the flow has that function; with CPU snapshots of this process, its children
    and the machine around it), and note the thread pool size `flows.corpus.run` asks for. All are
    module attributes looked up at call time, so wrapping them changes nothing else; the cost is a
    few clock reads per call."""
    import litellm

    import flows.corpus
    import tasks.toolset

    trace = Trace()
    saved = [
        (litellm, "completion", getattr(litellm, "completion", None)),
        (tasks.toolset, "build_tool", getattr(tasks.toolset, "build_tool", None)),
        (flows.corpus, "build_toolset", getattr(flows.corpus, "build_toolset", None)),
        (flows.corpus, "ThreadPoolTaskRunner", getattr(flows.corpus, "ThreadPoolTaskRunner", None)),
    ]
    completion, build_tool, build_toolset, runner = (original for _, _, original in saved)

    def stage(*args: Any, **kwargs: Any) -> Any:
        before = cpu_snapshot(server_pid)
        try:
            return trace.wrap(build_toolset, trace.stage, time.process_time)(*args, **kwargs)
        finally:
            after = cpu_snapshot(server_pid)
            trace.cpu = {key: after[key] - before[key] for key in after}

    def sized_runner(*args: Any, **kwargs: Any) -> Any:
        trace.workers = kwargs.get("max_workers", args[0] if args else None)
        return runner(*args, **kwargs)

    if completion is not None:
        litellm.completion = trace.wrap(completion, trace.calls)
    if build_tool is not None:
        tasks.toolset.build_tool = trace.wrap(build_tool, trace.bodies)
    if build_toolset is not None:
        flows.corpus.build_toolset = stage
    if runner is not None:
        flows.corpus.ThreadPoolTaskRunner = sized_runner
    try:
        yield trace
    finally:
        for module, name, original in saved:
            if original is not None:
                setattr(module, name, original)


def busy_seconds(spans: Sequence[Span]) -> float:
    """Sum of span durations (the time-integral of the number in flight)."""
    return sum(span.seconds for span in spans)


def cpu_seconds(spans: Sequence[Span]) -> float:
    return sum(span.cpu for span in spans)


# -- the run ------------------------------------------------------------------------------------------


@dataclass
class Result:
    manifest: dict[str, Any]
    run_dir: str
    run_seconds: float
    trace: Trace | None
    seed_note: str
    server_stats: dict[str, Any] | None = None


def run_bench(args: argparse.Namespace, scratch: Path, out: Path) -> Result:
    """Start the server, run the corpus flow once, stop the server; the run's manifest and timings."""
    for name, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    seed_file, seed_note = choose_seed_file(args.seed_file, args.seeds, scratch)

    import agents.llm  # noqa: F401  (first: keeps litellm offline)
    from agents.llm.config import LLMConfig
    from flows import corpus
    from flows.config import CorpusConfig, SeedSelection

    selection = (
        SeedSelection(source=str(seed_file), limit=args.seeds)
        if args.first
        else SeedSelection(source=str(seed_file), sample=args.seeds, sample_seed=args.sample_seed)
    )
    server = start_server(args, scratch)
    try:
        config = CorpusConfig(
            seeds=selection,
            llm=LLMConfig(
                model=MODEL,
                api_base=server.base_url,
                concurrency=args.concurrency,
                cache_dir=str(scratch / "cache"),  # fresh and empty: every call is a real call
                timeout_s=args.client_timeout,
                backoff_base_s=0.1,
                backoff_max_s=1.0,
                max_attempts=8,
            ),
            out=str(out),
            **toolset_only(CorpusConfig),
        )
        with traced(server.process.pid) if args.trace else contextlib.nullcontext() as trace:
            started = time.perf_counter()
            run_dir = corpus.run(config)
            run_seconds = time.perf_counter() - started
    finally:
        server_stats = server.stop()
    manifest = json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))
    return Result(manifest, run_dir, run_seconds, trace, seed_note, server_stats)


def toolset_only(config_class: type) -> dict[str, Any]:
    """`stages=["toolset"]` where the flow has later stages too: this benchmark measures the toolset."""
    return {"stages": ["toolset"]} if "stages" in getattr(config_class, "model_fields", {}) else {}


# -- the report ---------------------------------------------------------------------------------------


def toolset_stage(manifest: dict[str, Any]) -> dict[str, Any]:
    for stage in manifest.get("stages", []):
        if stage.get("name") == "toolset":
            return stage
    raise KeyError("the manifest has no toolset stage")


def report(args: argparse.Namespace, result: Result, process_seconds: float) -> bool:
    """Print the figures, one per line; True when the counts reconcile."""
    manifest = result.manifest
    stage = toolset_stage(manifest)
    llm = manifest.get("llm", {})
    seeds, tools, rejected = stage["inputs"], stage["outputs"], stage["rejected"]
    seeds_written = manifest.get("artifacts", {}).get("seeds", {}).get("rows", seeds)
    reconciled = seeds == tools + rejected and seeds_written == seeds and seeds > 0
    calls, errors = int(llm.get("calls", 0)), int(llm.get("errors", 0))
    stage_seconds = float(stage["seconds"])
    # The denominator is the toolset stage's own wall time (StageStats.seconds: from the first task
    # submitted to the last result), not the whole process: the process time also holds Prefect's
    # one-off ephemeral API server start (several seconds, once per process, whatever the corpus
    # size), imports, seed parsing and Parquet writes. Those do not grow with the number of LLM calls,
    # so mixing them in would make the figure depend on N rather than on how well the stage keeps
    # `concurrency` calls in flight. Both times are printed.
    ideal_seconds = calls * args.latency / args.concurrency
    efficiency = ideal_seconds / stage_seconds if stage_seconds > 0 else 0.0
    verdict = "PASS" if efficiency >= TARGET_EFFICIENCY else "BELOW"

    print(result.seed_note)
    print(f"run dir: {result.run_dir} (status {manifest.get('status')})")
    print(f"seeds: {seeds}")
    print(f"tools: {tools}")
    print(f"rejected: {rejected}")
    print(f"reconciled (seeds == tools + rejected): {'yes' if reconciled else 'NO'}")
    print(f"LLM calls: {calls}")
    print(f"LLM errors (failed attempts): {errors}")
    print(f"latency: {args.latency:.3f} s")
    print(f"concurrency: {args.concurrency}")
    print(f"fault rate: {args.fault_rate} ({args.fault_kinds})" if args.fault_rate else "fault rate: 0")
    print(f"toolset stage wall time: {stage_seconds:.2f} s")
    print(f"whole process wall time: {process_seconds:.2f} s (flow call {result.run_seconds:.2f} s)")
    print(f"ideal stage time (calls x latency / concurrency): {ideal_seconds:.2f} s")
    print(f"efficiency: {efficiency:.3f} (target >= {TARGET_EFFICIENCY}) {verdict}")
    if result.server_stats:
        faults = {k: v for k, v in result.server_stats.get("faults", {}).items() if v}
        print(
            f"fake server: {result.server_stats.get('requests')} requests, "
            f"{result.server_stats.get('completions')} completions, faults injected {faults or 'none'}"
        )
    if result.server_stats:
        requests = result.server_stats.get("requests")
        same = "matches" if requests == calls + errors else "DIFFERS from"
        print(f"cross-check: server requests {requests} {same} LLM calls + errors {calls + errors}")
    if result.trace is not None:
        print_trace(result.trace, args, stage_seconds)
    return reconciled


def print_trace(trace: Trace, args: argparse.Namespace, stage_seconds: float) -> None:
    """Where the stage time went: calls in flight, call time over the latency, CPU by component."""
    with trace.lock:
        calls, bodies, stage = list(trace.calls), list(trace.bodies), list(trace.stage)
    if not calls or stage_seconds <= 0:
        return
    durations = sorted(span.seconds for span in calls)
    mean_call = statistics.fmean(durations)
    p50, p95 = durations[len(durations) // 2], durations[max(0, int(len(durations) * 0.95) - 1)]
    in_flight = busy_seconds(calls) / stage_seconds
    print(
        f"trace: HTTP attempts {len(calls)}, duration mean {mean_call * 1000:.0f} ms, p50 "
        f"{p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (server latency {args.latency * 1000:.0f} ms)"
    )
    print(
        f"trace: mean calls in flight {in_flight:.2f} of {args.concurrency} "
        f"({in_flight / args.concurrency:.0%}); "
        f"latency / mean attempt duration {args.latency / mean_call:.0%}"
    )
    if not bodies:
        return
    workers = trace.workers or 0
    body_busy, call_cpu, body_cpu = busy_seconds(bodies), cpu_seconds(calls), cpu_seconds(bodies)
    print(
        f"trace: task bodies {len(bodies)}, mean {body_busy / len(bodies) * 1000:.0f} ms wall, of which "
        f"outside LLM calls {(body_busy - busy_seconds(calls)) / len(bodies) * 1000:.0f} ms; "
        f"{workers} worker threads inside task bodies {body_busy / max(1, workers) / stage_seconds:.0%} "
        "of the stage (the rest: Prefect's own per-task work, or idle)"
    )
    if stage:
        span = stage[0]
        first_body, last_body = min(b.start for b in bodies), max(b.end for b in bodies)
        process_cpu = span.cpu
    else:  # the flow has no `build_toolset` to time: the stage is taken as the span of the bodies
        first_body = last_body = 0.0
        span = Span(min(b.start for b in bodies), max(b.end for b in bodies), 0.0)
        process_cpu = 0.0
    print(
        f"trace: CPU per LLM attempt {call_cpu / len(calls) * 1000:.1f} ms (litellm + HTTP client); "
        f"per task body outside the calls {(body_cpu - call_cpu) / len(bodies) * 1000:.1f} ms"
    )
    if process_cpu:
        other = process_cpu - body_cpu
        print(
            f"trace: this process's CPU during the stage {process_cpu:.2f} s "
            f"({process_cpu / span.seconds:.2f} cores): LLM attempts {call_cpu:.2f} s, "
            f"rest of task bodies {body_cpu - call_cpu:.2f} s, "
            f"outside task bodies (Prefect task engine, flow thread) {other:.2f} s "
            f"= {other / len(bodies) * 1000:.1f} ms per task"
        )
    cpu = trace.cpu
    if cpu.get("total"):
        cores = os.cpu_count() or 1
        wall = cpu["total"] / cores
        print(
            f"trace: machine CPU during the stage {cpu['busy'] / wall:.2f} of {cores} cores busy: "
            f"this process {cpu['process'] / wall:.2f}, fake server {cpu['server'] / wall:.2f}, "
            f"Prefect API server and other children {cpu['children'] / wall:.2f}, "
            f"everything else on the machine "
            f"{max(0.0, cpu['busy'] - cpu['process'] - cpu['server'] - cpu['children']) / wall:.2f}"
        )
    if stage:
        print(
            f"trace: stage start -> first task body {first_body - span.start:.2f} s; "
            f"last task body -> stage end {span.end - last_body:.2f} s"
        )


# -- command line -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.toolset_bench",
        description="Toolset-stage throughput of the corpus flow against a fake LLM server.",
    )
    parser.add_argument("--seeds", type=int, default=200, help="number of seeds (default 200)")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency per call, s (0.2)")
    parser.add_argument("--concurrency", type=int, default=16, help="LLM calls in flight (16)")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="chance of a fault per call (0)")
    parser.add_argument("--fault-kinds", default="429,500,timeout,malformed", help="injected fault kinds")
    parser.add_argument("--fault-timeout", type=float, default=5.0, help='server sleep of a "timeout" (5)')
    parser.add_argument("--client-timeout", type=float, default=2.0, help="LLM client timeout, s (2.0)")
    parser.add_argument("--out", default=None, help="run store root (default: a temp dir, removed after)")
    parser.add_argument("--seed-file", default=None, help="seed list (default: shared public-apis 2022)")
    parser.add_argument("--first", action="store_true", help="the first N seeds, not a stratified sample")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the stratified sample (0)")
    parser.add_argument("--server-seed", type=int, default=0, help="seed of the server's fault draws (0)")
    parser.add_argument(
        "--no-trace", dest="trace", action="store_false", help="do not time calls and task bodies"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.concurrency < 1 or args.latency < 0 or args.client_timeout <= 0:
        parser.error("--seeds and --concurrency must be >= 1, --latency >= 0, --client-timeout > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="toolset-bench-"))
    out = Path(args.out).expanduser().resolve() if args.out else scratch / "out"
    try:
        try:
            result = run_bench(args, scratch, out)
        except Exception as exc:
            print(f"benchmark run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        process_seconds = time.perf_counter() - _PROCESS_T0
        try:
            reconciled = report(args, result, process_seconds)
        except (KeyError, TypeError, ValueError) as exc:
            print(f"could not read the run's manifest: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        if result.manifest.get("status") != "completed":
            print(f"the run did not complete (status {result.manifest.get('status')})", file=sys.stderr)
            return 2
        if not reconciled:
            print("counts do not reconcile: seeds != tools + rejected", file=sys.stderr)
            return 1
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
