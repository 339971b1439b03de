"""A run killed at a random point (SIGKILL to its whole process group), then resumed in place.

    python -m bench.resume_bench [--tools 20] [--latency 0.1] [--concurrency 8] [--seed S]

Runs the corpus once uninterrupted (its own cache), then the same command with another cache, kills
it at a random point of its work (after a share of the uninterrupted run's calls, 10-90%, chosen with
`--seed`), resumes it with `--resume`, and compares the records of both runs (every artifact,
sorted), and the LLM calls the fake server answered. Prints when the kill came, what the killed run
had written, and the calls paid twice (beyond the uninterrupted run's, each invocation's one-call
model check left out): at most the calls in flight.
Exit status: 0 when the records are identical and no more than `concurrency` calls were paid twice.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.harness import REPO, add_common_args, command_env, fake_server, run_folder, scratch_dir, seed_file

ARTIFACTS = ("seeds", "tools", "rejected_tools", "instructions", "dialogs", "rejected_dialogs")
ARTIFACTS += ("rejections",)


def records(run_dir: Path) -> dict[str, list[str]]:
    """Each artifact's rows as canonical JSON, sorted."""
    found = {}
    for name in ARTIFACTS:
        rows = json.loads(pd.read_parquet(run_dir / name).to_json(orient="records"))
        found[name] = sorted(json.dumps(row, sort_keys=True) for row in rows)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resume_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--tools", type=int, default=20, help="tools, a stratified sample (20)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the point of the kill")
    add_common_args(parser, latency=0.1, concurrency=8)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with scratch_dir(args, "resume-bench-") as scratch, fake_server(args, scratch) as server:
        env = command_env(scratch / "prefect-home")

        def command(name: str, *extra: str) -> list[str]:
            return [
                sys.executable, "-m", "flows.corpus", "--seeds", str(seed_file(args)),
                "--sample", str(args.tools), "--instructions-per-tool", "3", "--model", args.model,
                "--api-base", server.base_url, "--concurrency", str(args.concurrency),
                "--part-rows", "10", "--part-seconds", "1", "--out", str(scratch / name / "out"),
                "--cache-dir", str(scratch / name / "cache"), *extra,
            ]  # fmt: skip

        def completions() -> int:
            import urllib.request

            with urllib.request.urlopen(server.base_url.rsplit("/v1", 1)[0] + "/stats", timeout=10) as r:
                return int(json.load(r)["completions"])

        started = time.perf_counter()
        whole_dir = run_folder(command("whole"), env, "the uninterrupted run")
        whole_seconds = time.perf_counter() - started
        whole_calls = completions()

        # the kill comes after a random share of the uninterrupted run's calls: somewhere in its work
        kill_at = round(rng.uniform(0.1, 0.9) * whole_calls)
        launched = time.perf_counter()
        process = subprocess.Popen(command("killed"), cwd=REPO, env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        while completions() - whole_calls < kill_at:
            if process.poll() is not None:
                print(f"the run to be killed exited ({process.returncode}) before the kill", file=sys.stderr)
                return 1
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
        kill_after = time.perf_counter() - launched
        process.wait(30)
        killed_calls = completions() - whole_calls
        (killed_dir,) = (scratch / "killed" / "out" / "runs").iterdir()
        status = json.loads((killed_dir / "manifest.json").read_text())["status"]
        parts = sorted(str(p.relative_to(killed_dir)) for p in killed_dir.glob("*/part-*.parquet"))

        before = completions()
        resumed_dir = run_folder([*command("killed"), "--resume", killed_dir.name], env, "the resumed run")
        resumed_calls = completions() - before
        identical = records(resumed_dir) == records(whole_dir)
    paid_twice = (killed_calls - 1) + (resumed_calls - 1) - (whole_calls - 1)
    print(f"uninterrupted: {whole_seconds:.1f} s, {whole_calls} calls")
    print(f"killed after {kill_after:.1f} s, at call {kill_at}: ", end="")
    print(f"status {status!r}, {len(parts)} parts, {killed_calls} calls")
    print(f"resumed in place: {resumed_dir == killed_dir}, {resumed_calls} calls")
    print(f"records identical to the uninterrupted run's: {identical}")
    print(f"calls paid twice: {paid_twice} (at most the {args.concurrency} in flight)")
    return 0 if identical and 0 <= paid_twice <= args.concurrency and resumed_dir == killed_dir else 1


if __name__ == "__main__":
    sys.exit(main())
