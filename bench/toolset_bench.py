"""Toolset-stage throughput: the corpus flow's toolset stage on N seeds against the fake LLM server.

    python -m bench.toolset_bench [--seeds 200] [--latency 0.2] [--concurrency 16] [--fault-rate 0.1]

Prints the counts, LLM calls, wall times and

    efficiency = (LLM calls x latency / concurrency) / toolset stage wall time

i.e. how close the stage comes to keeping `concurrency` calls in flight all the time (target >= 0.8).
The stage wall time runs from the flow's start to the last tool filed; the process time, printed too,
adds imports, litellm's set-up (before the run, as a run's first model call would) and Prefect's
ephemeral server start: one-off costs that do not grow with N.
Exit status: 0 when the run completed and seeds = tools + rejected (whatever the efficiency), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from bench.harness import add_common_args, print_efficiency, print_usage, run_corpus, scratch_dir, seed_file


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="python -m bench.toolset_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=200, help="seeds, a stratified sample (200)")
    add_common_args(parser, latency=0.2, concurrency=16)
    args = parser.parse_args(argv)
    from flows.config import SeedSelection

    with scratch_dir(args, "toolset-bench-") as scratch:
        selection = SeedSelection(source=str(seed_file(args)), sample=args.seeds, sample_seed=0)
        result = run_corpus(args, scratch, seeds=selection, stages=["toolset"])
    stage, llm = result.stage("toolset"), result.manifest["llm"]
    reconciled = stage["inputs"] == stage["outputs"] + stage["rejected"] == args.seeds
    print(f"seeds {stage['inputs']} = tools {stage['outputs']} + rejected {stage['rejected']}: "
          f"{'reconciled' if reconciled else 'DO NOT RECONCILE'}")  # fmt: skip
    print_usage(result, args)
    process_s = time.perf_counter() - started
    print(f"wall time: toolset stage {stage['seconds']:.2f} s, whole process {process_s:.2f} s "
          f"(litellm set-up {result.litellm_setup_seconds:.2f} s)")  # fmt: skip
    ideal = llm["calls"] * args.latency / args.concurrency
    print(f"ideal (calls x latency / concurrency): {ideal:.2f} s")
    print_efficiency(ideal, stage["seconds"])
    return 0 if result.manifest["status"] == "completed" and reconciled else 1


if __name__ == "__main__":
    sys.exit(main())
