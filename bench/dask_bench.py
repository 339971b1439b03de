"""Threads or Dask worker processes: the corpus benchmark's efficiency with each, measured from outside.

    python -m bench.dask_bench [--tools 50] [--instructions-per-tool 4] [--latency 0.2]
        [--concurrencies 16,64] [--workers 2,4] [--responder varied]

For each total concurrency, `python -m flows.corpus` runs the same sample against the fake LLM server
(a child process) with threads, then on a local Dask cluster of each number of worker processes,
each run with its own empty cache. It prints per run the LLM calls, the whole-process wall time, the
pipeline's (from the manifest), the stage-only efficiency (calls x latency / concurrency over the
pipeline's wall time) and the most chat completions the server had under way at once, which must
never exceed the concurrency. Exit status: 0 when every run completed, reconciled and stayed within
its concurrency; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Sequence
from typing import Any

from bench.corpus_bench import Measured, run_cli
from bench.harness import add_common_args, fake_server, scratch_dir


def server_stats(server: Any, reset: bool = False) -> dict[str, Any]:
    url = server.base_url.rsplit("/v1", 1)[0] + "/stats" + ("?reset" if reset else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.load(response))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dask_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--tools", type=int, default=50, help="tools, sampled (50)")
    parser.add_argument("--instructions-per-tool", type=int, default=4, help="instructions per tool (4)")
    parser.add_argument("--concurrencies", default="16,64", help="total LLM calls in flight (16,64)")
    parser.add_argument("--workers", default="2,4", help="Dask worker processes to compare (2,4)")
    parser.add_argument("--responder", default="varied", help="bench.responders function (varied)")
    add_common_args(parser, latency=0.2, concurrency=16)
    args = parser.parse_args(argv)
    args.extra = []
    runners = [("threads", [])] + [
        (f"dask x{n}", ["--task-runner", "dask", "--dask-workers", n]) for n in args.workers.split(",")
    ]

    ok = True
    with scratch_dir(args, "dask-bench-") as scratch, fake_server(args, scratch) as server:
        run_cli(args, scratch, server.base_url, 1, "warm-up")  # Prefect's database, made once
        for concurrency in (int(c) for c in args.concurrencies.split(",")):
            args.concurrency = concurrency
            for label, extra in runners:
                args.extra = extra
                server_stats(server, reset=True)
                name = f"c{concurrency}-{label.replace(' ', '')}"
                run_dir, wall = run_cli(args, scratch, server.base_url, args.tools, name)
                stats = server_stats(server)
                manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
                measured = Measured(args.tools, stats["completions"], wall, manifest)
                efficiency = measured.calls * args.latency / concurrency / measured.pipeline_s
                peak = stats["peak_in_flight"]
                within = peak <= concurrency
                ok &= within and measured.reconciles()
                print(f"concurrency {concurrency:>3} {label:<9}: {measured.calls} calls, whole process "
                      f"{wall:6.2f} s, pipeline {measured.pipeline_s:6.2f} s, efficiency {efficiency:.3f}, "
                      f"peak in flight {peak} ({'within' if within else 'OVER'} {concurrency}); "
                      f"{'reconciled' if measured.reconciles() else 'MISMATCH'}", flush=True)  # fmt: skip
    print(f"{args.tools} tools x {args.instructions_per_tool} instructions, latency {args.latency:.3f} s, "
          f"responder {args.responder}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
