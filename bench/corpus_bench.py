"""Whole-corpus throughput: toolset -> instructions -> simulation against the fake LLM server.

    python -m bench.corpus_bench [--tools 50] [--instructions-per-tool 4] [--latency 0.2]
        [--concurrency 16] [--fault-rate 0.1]

Prints the counts at every stage, LLM calls, the longest chain of dependent calls, wall times and

    efficiency = max(calls x latency / concurrency, longest chain x latency) / pipeline wall time

(target >= 0.8). The longest chain is the calls one tool's work must make one after another: its
toolset calls, then its instruction call(s), then its longest simulation (stage calls per tool, and
the instance with the most calls). The pipeline wall time runs from the flow's start to the last
instance filed; the process time, printed too, adds imports and Prefect's one-off server start.
Exit status: 0 when the run completed and every count reconciles (whatever the efficiency), 1 otherwise.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence

import pandas as pd

from bench.harness import (
    RunResult,
    add_common_args,
    print_efficiency,
    print_usage,
    run_corpus,
    scratch_dir,
    seed_file,
)


def calls_by_stage(result: RunResult) -> dict[str, int]:
    calls: dict[str, int] = {}
    for row in result.manifest["llm"]["by_stage_role"]:
        calls[row["stage"]] = calls.get(row["stage"], 0) + row["calls"]
    return calls


def longest_chain(result: RunResult) -> int:
    """Dependent calls of the slowest tool: toolset and instruction calls per tool, then its longest
    instance."""
    calls = calls_by_stage(result)
    tools = max(1, result.stage("toolset")["outputs"] + result.stage("toolset")["rejected"])
    instructed = result.stage("instructions")
    with_instructions = max(1, instructed["inputs"] - instructed["rejected"])
    instances = pd.concat(
        [pd.read_parquet(result.run_dir / name, columns=["llm_calls"])
         for name in ("instances", "rejected_instances")]
    )  # fmt: skip
    longest_instance = int(instances["llm_calls"].max()) if len(instances) else 0
    return (
        math.ceil(calls.get("toolset", 0) / tools)
        + math.ceil(calls.get("instructions", 0) / with_instructions)
        + longest_instance
    )


def reconcile(result: RunResult) -> list[str]:
    """One line per count check, 'ok' or 'MISMATCH'."""
    rows = {name: info["rows"] for name, info in result.manifest["artifacts"].items()}
    checks = [
        ("seeds = tools + rejected_tools", rows["seeds"], rows["tools"] + rows["rejected_tools"]),
        ("instructions = instances + rejected_instances", rows["instructions"],
         rows["instances"] + rows["rejected_instances"]),
    ]  # fmt: skip
    return [f"{'ok' if a == b else 'MISMATCH'}: {label} ({a} = {b})" for label, a, b in checks]


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="python -m bench.corpus_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--tools", type=int, default=50, help="seeds, a stratified sample (50)")
    parser.add_argument("--instructions-per-tool", type=int, default=4, help="instructions per tool (4)")
    add_common_args(parser, latency=0.2, concurrency=16)
    args = parser.parse_args(argv)
    from flows.config import SeedSelection
    from tasks.simulation import SimulationSettings

    with scratch_dir(args, "corpus-bench-") as scratch:
        result = run_corpus(
            args,
            scratch,
            seeds=SeedSelection(source=str(seed_file(args)), sample=args.tools, sample_seed=0),
            simulation=SimulationSettings(instructions_per_tool=args.instructions_per_tool),
        )
        chain = longest_chain(result)  # reads the run's Parquet files, before the scratch goes
    for stage in result.manifest["stages"]:
        print(f"{stage['name']:<12} in {stage['inputs']:>4}  out {stage['outputs']:>4}  "
              f"rejected {stage['rejected']:>4}  done at {stage['seconds']:6.2f} s")  # fmt: skip
    checks = reconcile(result)
    print("\n".join(checks))
    print_usage(result, args)
    calls = result.manifest["llm"]["calls"]
    wall = max(stage["seconds"] for stage in result.manifest["stages"])
    ideal = max(calls * args.latency / args.concurrency, chain * args.latency)
    print(f"longest chain of dependent calls: {chain}")
    print(f"wall time: pipeline {wall:.2f} s, whole process {time.perf_counter() - started:.2f} s "
          f"(litellm set-up {result.litellm_setup_seconds:.2f} s)")  # fmt: skip
    print(f"ideal: max(calls x latency / concurrency, chain x latency) = {ideal:.2f} s")
    print_efficiency(ideal, wall)
    ok = result.manifest["status"] == "completed" and all(c.startswith("ok") for c in checks)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
