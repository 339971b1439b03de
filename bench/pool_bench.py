"""ToolACE's pool size: `python -m flows.pool --size 26507` against the fake LLM server, measured from
outside the process.

    python -m bench.pool_bench [--size 26507] [--concurrency 32] [--latency 0]

The taxonomy grows from the 2022 public-apis list's 51 categories; every API is adapted, evolved by
two operators, deduplicated and built by the toolset step. It prints the wall time, the LLM calls
and task runs, the accounting (APIs proposed = kept + rejected; toolset inputs = tools + rejected),
the taxonomy's size, the peak memory of the run's whole process tree (sampled every 0.2 s; target
under 2 GiB, the scale benchmark's bound) and the diversity report (`pool.md`).
Exit status: 0 when the run completed and reconciled (whatever the figures), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.harness import add_common_args, command_env, fake_server, scratch_dir, seed_file
from bench.scale_bench import TARGET_PEAK_GIB, TOOLACE_POOL, run_measured


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pool_bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size", type=int, default=TOOLACE_POOL, help=f"APIs the pool keeps ({TOOLACE_POOL})"
    )
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more options for flows.pool")
    add_common_args(parser, latency=0.0, concurrency=32)
    args = parser.parse_args(argv)
    with scratch_dir(args, "pool-bench-") as scratch, fake_server(args, scratch) as server:
        command = [
            sys.executable, "-m", "flows.pool", "--size", str(args.size), "--seeds", str(seed_file(args)),
            "--model", args.model, "--api-base", server.base_url, "--concurrency", str(args.concurrency),
            "--timeout", str(args.client_timeout), "--max-attempts", "8",
            "--out", str(scratch / "out"), "--cache-dir", str(scratch / "cache"), *args.extra,
        ]  # fmt: skip
        env = command_env(scratch / "prefect-home")
        measured = run_measured(command, env)
        wall, sampler = measured.wall_s, measured.sampler
        if measured.returncode != 0:
            print(measured.stderr[-3000:], file=sys.stderr)
            return 1
        run_dir = Path(measured.stdout.strip().splitlines()[-1])
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        taxonomy = pd.read_parquet(run_dir / "taxonomy", columns=["level"])["level"].value_counts()
        report = (run_dir / "pool.md").read_text(encoding="utf-8")
    stages = {s["name"]: s for s in manifest["stages"]}
    pool, toolset = stages["pool"], stages["toolset"]
    reconciled = (
        pool["inputs"] == pool["outputs"] + pool["rejected"]
        and toolset["inputs"] == toolset["outputs"] + toolset["rejected"] == pool["outputs"]
    )
    print(f"APIs proposed {pool['inputs']} = kept {pool['outputs']} + rejected {pool['rejected']}; "
          f"toolset {toolset['inputs']} = tools {toolset['outputs']} + rejected {toolset['rejected']}: "
          f"{'reconciled' if reconciled else 'DO NOT RECONCILE'}")  # fmt: skip
    print(f"taxonomy: {taxonomy.get('domain', 0)} domains, {taxonomy.get('coarse', 0)} coarse, "
          f"{taxonomy.get('fine', 0)} fine functions")  # fmt: skip
    print(f"{manifest['llm']['calls']} LLM calls, {manifest['task_runs']} task runs; wall time {wall:.1f} s "
          f"({1000 * wall / max(1, pool['outputs']):.1f} ms per kept API, whole process)")  # fmt: skip
    peak = sampler.peak_rss / 2**30
    print(f"peak memory of the run's process tree: {peak:.2f} GiB (target < {TARGET_PEAK_GIB:.0f}) "
          f"{'PASS' if peak < TARGET_PEAK_GIB else 'ABOVE TARGET'}")  # fmt: skip
    print(report)
    return 0 if manifest["status"] == "completed" and reconciled else 1


if __name__ == "__main__":
    sys.exit(main())
