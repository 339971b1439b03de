"""Whole-corpus throughput, measured from outside: `python -m flows.corpus` at two sizes against the
fake LLM server, each process timed from its start to its last line.

    python -m bench.corpus_bench [--sizes 25,100] [--instructions-per-tool 4] [--latency 0.2]
        [--concurrency 16] [--responder varied] [--fault-rate 0.1]

The server (a child process) answers after `latency`; with the default `varied` responder the
assistant makes 1 to 4 calls before it finishes, so dialogues end at different lengths. For each
size it prints the counts, the LLM calls, the whole-process wall time and the stage-only efficiency
(calls x latency / concurrency over the pipeline's own wall time, from the manifest); then

    marginal efficiency = (extra calls x latency / concurrency) / (extra whole-process wall time)

between the two sizes: the fixed start-up (imports, Prefect's server, the model check) cancels out,
everything else counts (target >= 0.9). A warm-up run first makes Prefect's database. For the larger
run it also prints what verification found (pass rates per check, the judge's calls per dialogue it
judged, the diversity figures) from the manifest, and the artifacts the run left in Prefect's UI.
Exit status: 0 when every run completed and its counts reconcile (whatever the efficiency), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import (
    REPO,
    accounted_for,
    add_common_args,
    command_env,
    fake_server,
    run_folder,
    scratch_dir,
    seed_file,
)

TARGET_MARGINAL = 0.9


@dataclass
class Measured:
    tools: int
    calls: int
    wall_s: float
    manifest: dict[str, Any]

    @property
    def pipeline_s(self) -> float:
        return max(stage["seconds"] for stage in self.manifest["stages"])

    def reconciles(self) -> bool:
        return accounted_for(self.manifest)


def run_cli(
    args: argparse.Namespace, scratch: Path, base_url: str, tools: int, name: str
) -> tuple[Path, float]:
    """One `python -m flows.corpus` process with its own cache and out folder: (run dir, wall s)."""
    command = [
        sys.executable, "-m", "flows.corpus",
        "--seeds", str(seed_file(args)), "--sample", str(tools),
        "--instructions-per-tool", str(args.instructions_per_tool),
        "--model", args.model, "--api-base", base_url, "--concurrency", str(args.concurrency),
        "--timeout", str(args.client_timeout), "--max-attempts", "8",
        "--out", str(scratch / name / "out"), "--cache-dir", str(scratch / name / "cache"),
        *args.extra,
    ]  # fmt: skip
    started = time.perf_counter()
    run_dir = run_folder(command, command_env(scratch / "prefect-home"), f"the run of {tools} tools")
    return run_dir, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="25,100", help="two numbers of tools, sampled (25,100)")
    parser.add_argument("--instructions-per-tool", type=int, default=4, help="instructions per tool (4)")
    parser.add_argument("--responder", default="varied", help="bench.responders function (varied)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more options for flows.corpus")
    add_common_args(parser, latency=0.2, concurrency=16)
    args = parser.parse_args(argv)
    small, large = (int(n) for n in args.sizes.split(","))

    results: list[Measured] = []
    with scratch_dir(args, "corpus-bench-") as scratch, fake_server(args, scratch) as server:
        run_cli(args, scratch, server.base_url, 1, "warm-up")  # Prefect's database, made once
        for tools in (small, large):
            before = _completions(server)
            run_dir, wall = run_cli(args, scratch, server.base_url, tools, f"size-{tools}")
            manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
            results.append(Measured(tools, _completions(server) - before, wall, manifest))
        stats = server.stats()
        scratch_home = scratch / "prefect-home"
        artifacts = ui_artifacts(scratch_home, results[-1].manifest)
    ok = True
    for m in results:
        counts = [f"{x['name']} {x['inputs']}->{x['outputs']}+{x['rejected']}" for x in m.manifest["stages"]]
        stages = ", ".join(counts)
        stage_eff = m.calls * args.latency / args.concurrency / m.pipeline_s
        print(f"{m.tools:>4} tools: {m.calls} calls, whole process {m.wall_s:.2f} s, "
              f"pipeline {m.pipeline_s:.2f} s, stage-only efficiency {stage_eff:.3f}; {stages}; "
              f"{'reconciled' if m.reconciles() else 'MISMATCH'}")  # fmt: skip
        ok &= m.reconciles()
    first, second = results
    print_verification(second.manifest)
    print(f"Prefect UI artifacts of the {second.tools}-tool run: {artifacts}")
    extra_ideal = (second.calls - first.calls) * args.latency / args.concurrency
    marginal = extra_ideal / (second.wall_s - first.wall_s)
    verdict = "PASS" if marginal >= TARGET_MARGINAL else "BELOW TARGET"
    faults = {kind: n for kind, n in stats.get("faults", {}).items() if n} or "none"
    print(f"fake server: {stats['requests']} requests, faults {faults}")
    print(f"latency {args.latency:.3f} s, concurrency {args.concurrency}, responder {args.responder}")
    print(f"marginal efficiency ({first.tools} -> {second.tools} tools): {extra_ideal:.2f} s ideal / "
          f"{second.wall_s - first.wall_s:.2f} s = {marginal:.3f} "
          f"(target >= {TARGET_MARGINAL}) {verdict}")  # fmt: skip
    return 0 if ok else 1


def print_verification(manifest: dict[str, Any]) -> None:
    """Pass rates per check, the judge's calls per judged dialogue, and the diversity figures."""
    rows = sorted(manifest.get("checks", []), key=lambda c: (c["layer"], -c["dialogs"], c["check"]))
    print("pass rates: " + ", ".join(f"{c['layer']}/{c['check']} {c['passed']}/{c['dialogs']}" for c in rows))
    judged = max((c["dialogs"] for c in rows if c["layer"] == "judge"), default=0)
    judge = [r for r in manifest["llm"]["by_stage_role"] if r["role"] == "judge"]
    asked = sum(r["calls"] + r["cache_hits"] for r in judge)
    print(f"judge: {asked} calls (cache hits included) for {judged} judged dialogues")
    d = manifest.get("diversity") or {}
    if d:
        distinct = "/".join(f"{d['requests'][f'distinct_{n}']:.3f}" for n in (1, 2, 3))
        print(
            f"diversity: {d['tools']} tools, {d['dialogs']} dialogues; requests distinct-1/2/3 {distinct}; "
            f"categories {d['categories']['count']} (entropy {d['categories']['entropy_bits']:.2f} bits); "
            f"types {d['dialog_types']}; bands {d['complexity_bands']}"
        )


UI_ARTIFACTS = """
import asyncio, sys
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.sorting import ArtifactSort

async def main():
    of_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[sys.argv[1]]))
    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=of_run, limit=200, sort=ArtifactSort.KEY_ASC)
        print(", ".join(f"{a.key} ({a.type})" for a in found if a.key))

asyncio.run(main())
"""


def ui_artifacts(prefect_home: Path, manifest: dict[str, Any]) -> str:
    """The keys of the artifacts the run's flow run left in Prefect (read back from its database)."""
    done = subprocess.run(
        [sys.executable, "-c", UI_ARTIFACTS, str(manifest["flow_run_id"])],
        cwd=REPO, env=command_env(prefect_home), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else f"not read: {done.stderr.strip()[-300:]}"


def _completions(server: Any) -> int:
    """Chat completions the fake server answered so far (its /stats endpoint)."""
    import urllib.request

    with urllib.request.urlopen(server.base_url.rsplit("/v1", 1)[0] + "/stats", timeout=10) as response:
        return int(json.load(response)["completions"])


if __name__ == "__main__":
    sys.exit(main())
