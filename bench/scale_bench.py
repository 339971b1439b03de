"""ToolACE scale: 26,507 seeds through the toolset stage, measured from outside the process.

    python -m bench.scale_bench [--seeds 26507] [--concurrency 32] [--latency 0]

The seeds are numbered variants of the 2022 public-apis list (`Cat Facts #7`, each its own API),
written as one public-apis README. `python -m flows.corpus --stages toolset` runs them against the
fake LLM server (a child process) at zero latency, so every second of the stage is the factory's own
time. It prints the wall time (whole process, and the stage from the manifest), the factory's time
per tool, the CPU seconds of each process of the run's tree (the flow's, Prefect's server, the spec
validator) and of the fake server, and the peak memory (RSS) of the run's whole process tree,
sampled every 0.2 s.
Targets: it completes, seeds = tools + rejected, peak memory under 2 GiB, under 20 ms per tool.
Exit status: 0 when the run completed and reconciled (whatever the figures), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

from bench.harness import REPO, add_common_args, command_env, fake_server, scratch_dir, seed_file

TARGET_MS_PER_TOOL = 20.0
TARGET_PEAK_GIB = 2.0
TOOLACE_POOL = 26_507


def variant_link(link: str, number: int) -> str:
    """The link of a seed's numbered variant: its own page (`?edition=N`), so that the run's seed dedup
    does not take the variants for one API listed again."""
    if not link:
        return ""
    parts = urlsplit(link)
    query = f"{parts.query}&edition={number}" if parts.query else f"edition={number}"
    return urlunsplit(parts._replace(query=query))


def variants(source: Path, count: int, destination: Path) -> int:
    """Write `count` seeds, numbered variants of the list at `source`, as a public-apis README. Each
    variant is a distinct API to the seed dedup (`tasks.dedup.duplicate_seeds`): its own link, and a
    name and description told apart by the same number ('Cat Facts #7', '... (edition 7)')."""
    sys.path.insert(0, str(REPO))
    from tasks.seeds import read_seeds

    seeds, _ = read_seeds(str(source))
    by_category: dict[str, list[str]] = {}
    written = 0
    for round_number in range(1, count // len(seeds) + 2):
        for seed in seeds:
            if written == count:
                break
            row = (
                f"| [{seed.name} #{round_number}]({variant_link(seed.link, round_number)}) "
                f"| {seed.description} (edition {round_number}) | No | Yes | Yes |"
            )
            by_category.setdefault(seed.category, []).append(row)
            written += 1
    header = "| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n"
    tables = [f"### {name}\n{header}" + "\n".join(rows) + "\n\n" for name, rows in by_category.items()]
    text = "".join(tables)
    destination.write_text(text, encoding="utf-8")
    return written


class TreeSampler:
    """Peak RSS of a process and its descendants, and the CPU seconds each of them used."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        self.root = psutil.Process(pid)
        self.every_s = every_s
        self.peak_rss = 0
        self.cpu: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            rss = 0
            for process in processes:
                try:
                    with process.oneshot():
                        rss += process.memory_info().rss
                        times = process.cpu_times()
                        name = " ".join(process.cmdline()[1:4])
                        self.cpu[process.pid] = (name, times.user + times.system)
                except psutil.Error:
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class Measured:
    """A command run to its end: its exit status, outputs, wall time and process tree's figures."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    sampler: TreeSampler


def run_measured(command: list[str], env: dict[str, str]) -> Measured:
    """Run `command` from the repository, sampling its process tree while it runs."""
    started = time.perf_counter()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    process = subprocess.Popen(command, cwd=REPO, env=env, **pipes)
    sampler = TreeSampler(process.pid)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    sampler.stop()
    return Measured(process.returncode, stdout, stderr, wall, sampler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=TOOLACE_POOL, help=f"seeds ({TOOLACE_POOL})")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more options for flows.corpus")
    add_common_args(parser, latency=0.0, concurrency=32)
    args = parser.parse_args(argv)
    with scratch_dir(args, "scale-bench-") as scratch, fake_server(args, scratch) as server:
        seeds_path = scratch / "pool.md"
        count = variants(seed_file(args), args.seeds, seeds_path)
        command = [
            sys.executable, "-m", "flows.corpus", "--seeds", str(seeds_path), "--stages", "toolset",
            "--model", args.model, "--api-base", server.base_url, "--concurrency", str(args.concurrency),
            "--timeout", str(args.client_timeout), "--max-attempts", "8",
            "--out", str(scratch / "out"), "--cache-dir", str(scratch / "cache"), *args.extra,
        ]  # fmt: skip
        env = command_env(scratch / "prefect-home")
        server_cpu_before = sum(psutil.Process(server.process.pid).cpu_times()[:2])
        measured = run_measured(command, env)
        wall, sampler = measured.wall_s, measured.sampler
        server_cpu = sum(psutil.Process(server.process.pid).cpu_times()[:2]) - server_cpu_before
        if measured.returncode != 0:
            print(measured.stderr[-3000:], file=sys.stderr)
            return 1
        run_dir = Path(measured.stdout.strip().splitlines()[-1])
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    (stage,) = [s for s in manifest["stages"] if s["name"] == "toolset"]
    reconciled = stage["inputs"] == stage["outputs"] + stage["rejected"] == count
    tools = max(1, stage["inputs"])
    print(f"seeds {stage['inputs']} = tools {stage['outputs']} + rejected {stage['rejected']}: "
          f"{'reconciled' if reconciled else 'DO NOT RECONCILE'}; {manifest['llm']['calls']} LLM calls, "
          f"{manifest['task_runs']} task runs")  # fmt: skip
    print(f"wall time: whole process {wall:.1f} s, toolset stage {stage['seconds']:.1f} s")
    per_tool = 1000 * stage["seconds"] / tools
    verdict = "PASS" if per_tool < TARGET_MS_PER_TOOL else "ABOVE TARGET"
    print(f"factory time per tool (stage wall / tools, zero latency): {per_tool:.1f} ms "
          f"(target < {TARGET_MS_PER_TOOL:.0f}) {verdict}; "
          f"whole process: {1000 * wall / tools:.1f} ms")  # fmt: skip
    for name, cpu in sorted(sampler.cpu.values(), key=lambda item: -item[1]):
        if not name:  # a child already reaped when last sampled (no command line left to name it)
            continue
        print(f"  cpu {cpu:8.1f} s ({1000 * cpu / tools:5.1f} ms/tool)  {name}")
    print(f"  cpu {server_cpu:8.1f} s ({1000 * server_cpu / tools:5.1f} ms/tool)  fake LLM server")
    peak = sampler.peak_rss / 2**30
    print(f"peak memory of the run's process tree: {peak:.2f} GiB (target < {TARGET_PEAK_GIB:.0f}) "
          f"{'PASS' if peak < TARGET_PEAK_GIB else 'ABOVE TARGET'}")  # fmt: skip
    return 0 if manifest["status"] == "completed" and reconciled else 1


if __name__ == "__main__":
    sys.exit(main())
