"""Adaptive concurrency and rate limits against a provider with limits (issue 32): the fake server run
with `--rpm` (and its `x-ratelimit-*` headers), and with `--saturate` (latency growing with the calls
in flight, as a saturated vLLM server's does).

Three parts, each against a fresh server in a child process:

- **rate**: a direct load on the gateway (`LLMGateway.complete` from as many threads as the ceiling,
  each call a new conversation, no cache) against a server limited to `--rpm`. This measures the same
  thing as a corpus run (every model call of a run goes through the gateway's limits) without the
  pipeline's own CPU. After `--warmup` seconds (the provider's first minute), it prints the achieved
  rate as a share of the limit (target >= 0.9) and the share of calls refused with 429 (target <= 2%).
  Three ways of knowing the limit: learned from the headers (the default), given as `--rpm`, and
  neither (429s and Retry-After alone).
- **corpus**: the same small corpus made twice, against an unlimited server and one limited to
  `--corpus-rpm` (below the rate the run would call at; the gateway learns the limit from headers);
  the accepted dialogues must be the same, and every item accounted for in both runs.
- **saturate**: a sweep of fixed concurrencies against the saturating server with a client timeout,
  then the adaptive limit (ceiling the sweep's largest, timeouts counted as refusals); its throughput
  must be within 10% of the best fixed one.

    python -m bench.rate_bench [--parts rate,corpus,saturate] [--rpm 600] [--concurrency 64] [--latency 1]

Exit 0 when every part that ran met its targets.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.harness import (
    ENV_DEFAULTS,
    MODEL,
    accounted_for,
    add_common_args,
    command_env,
    fake_server,
    run_folder,
    scratch_dir,
    seed_file,
)

RATE_TARGET = 0.9
REFUSED_TARGET = 0.02
SATURATION_TARGET = 0.9
SETTLE_S = 10.0
"""Seconds between two loads on the saturating server, for what the first left under way to end."""


@dataclass
class Load:
    """What one load on the gateway did after its warm-up."""

    label: str
    seconds: float
    completed: int
    failed: int
    refused: int
    requests: int
    limit: int | None

    @property
    def rate(self) -> float:
        """Answered calls per second."""
        return self.completed / self.seconds

    @property
    def refused_share(self) -> float:
        return self.refused / self.requests if self.requests else 0.0


def server_stats(base_url: str, *, reset: bool = False) -> dict[str, Any]:
    """The fake server's counters (`/stats`), zeroed after reading with `reset`."""
    url = base_url.rsplit("/v1", 1)[0] + "/stats" + ("?reset" if reset else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def load(
    base_url: str,
    label: str,
    *,
    seconds: float,
    warmup: float,
    ceiling: int,
    timeout_s: float,
    max_attempts: int = 8,
    **llm: Any,
) -> Load:
    """`ceiling` threads calling the gateway for `warmup + seconds`; what happened after the warm-up.
    Returns once every thread has ended (its last call answered or failed), so that no call of this
    load reaches the server during the next one."""
    from agents.llm.config import LLMConfig
    from agents.llm.errors import LLMCallError
    from agents.llm.gateway import LLMGateway

    gateway = LLMGateway(
        LLMConfig(
            model=MODEL,
            api_base=base_url,
            concurrency=ceiling,
            use_cache=False,
            timeout_s=timeout_s,
            backoff_base_s=0.1,
            backoff_max_s=1.0,
            max_attempts=max_attempts,
            stop_after_failures=0,
            **llm,
        )
    )
    numbers = itertools.count()
    started = time.monotonic()
    measured_from, ends = started + warmup, started + warmup + seconds
    lock = threading.Lock()
    counts = {"completed": 0, "failed": 0}

    def work() -> None:
        while time.monotonic() < ends:
            n = next(numbers)
            messages = [{"role": "user", "content": f"Question {n}: what is {n} squared?"}]
            try:
                gateway.complete(stage="load", role="user", messages=messages, template="load@1")
                outcome = "completed"
            except LLMCallError:
                outcome = "failed"
            finished = time.monotonic()
            if measured_from <= finished <= ends:
                with lock:
                    counts[outcome] += 1

    threads = [threading.Thread(target=work, daemon=True) for _ in range(ceiling)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measured_from - time.monotonic()))
    server_stats(base_url, reset=True)
    time.sleep(max(0.0, ends - time.monotonic()))
    stats = server_stats(base_url)
    for thread in threads:
        thread.join()
    model_limit = gateway.limits.limit(MODEL).limit
    return Load(
        label,
        seconds,
        counts["completed"],
        counts["failed"],
        stats["limited"] + stats["faults"]["429"],
        stats["completions"] + stats["limited"],
        model_limit,
    )


def part_rate(args: argparse.Namespace, scratch: Path) -> bool:
    limit_rps = args.rpm / 60
    ways = {
        "learned from x-ratelimit headers": (["--ratelimit-headers"], {}),
        f"given (--rpm {MODEL}={args.rpm})": ([], {"rpm": {MODEL: args.rpm}}),
        "neither (429 + Retry-After only)": ([], {}),
    }
    ok = True
    for number, (label, (options, llm)) in enumerate(ways.items()):
        if args.rate_ways and number not in args.rate_ways:
            continue
        with fake_server(args, scratch, ["--rpm", str(args.rpm), *options]) as server:
            result = load(
                server.base_url,
                label,
                seconds=args.seconds,
                warmup=args.warmup,
                ceiling=args.concurrency,
                timeout_s=args.client_timeout,
                **llm,
            )
            server.stats()
        share = result.rate / limit_rps
        meets = share >= RATE_TARGET and result.refused_share <= REFUSED_TARGET and result.failed == 0
        ok &= meets or number == 2  # the third way is shown for comparison, with no target
        print(
            f"rate, limit {label}: {result.rate:.2f} calls/s after the first {args.warmup:.0f} s = "
            f"{share:.3f} of {limit_rps:.2f}/s (target >= {RATE_TARGET}); 429s {result.refused}/"
            f"{result.requests} = {result.refused_share:.2%} (target <= {REFUSED_TARGET:.0%}); "
            f"failed {result.failed}; concurrency at the end {result.limit}/{args.concurrency}"
            + ("" if number == 2 else (" PASS" if meets else " BELOW TARGET")),
            flush=True,
        )
    return ok


def corpus_digest(run_dir: Path) -> tuple[int, str]:
    """(accepted dialogues, a digest of their ids and messages)."""
    dialogs = pd.read_parquet(run_dir / "dialogs").sort_values("dialog_id")
    text = json.dumps(
        [[row.dialog_id, str(row.messages)] for row in dialogs.itertuples()], default=str
    ).encode()
    return len(dialogs), hashlib.sha256(text).hexdigest()[:16]


def part_corpus(args: argparse.Namespace, scratch: Path) -> bool:
    digests, complete = {}, True
    limited = ["--rpm", str(args.corpus_rpm), "--ratelimit-headers"]
    for name, options in (("unlimited", []), ("limited", limited)):
        with fake_server(args, scratch, options) as server:
            command = [
                sys.executable, "-m", "flows.corpus", "--seeds", str(seed_file(args)),
                "--sample", str(args.corpus_tools), "--instructions-per-tool", "4",
                "--model", MODEL, "--api-base", server.base_url, "--concurrency", str(args.concurrency),
                "--timeout", str(args.client_timeout), "--max-attempts", "8",
                "--out", str(scratch / name / "out"), "--cache-dir", str(scratch / name / "cache"),
            ]  # fmt: skip
            started = time.perf_counter()
            run_dir = run_folder(command, command_env(scratch / "prefect-home"), f"the {name} corpus run")
            wall = time.perf_counter() - started
            stats = server.stats()
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        digests[name] = corpus_digest(run_dir)
        changes = manifest.get("concurrency", [])
        rows = {artifact: info["rows"] for artifact, info in manifest["artifacts"].items()}
        accounted = accounted_for(manifest)
        complete &= accounted
        calls = manifest["llm"]["calls"]
        items = (
            f"{rows['seeds']} seeds = {rows['tools']} tools + {rows['rejected_tools']} rejected, "
            f"{rows['instructions']} instructions = {rows['dialogs']} dialogues + "
            f"{rows['rejected_dialogs']} rejected: "
            + ("every item accounted for" if accounted else "NOT every item accounted for")
        )
        print(
            f"corpus, {name} server: {digests[name][0]} accepted dialogues (digest {digests[name][1]}), "
            f"{calls} calls, {stats['limited']} refused with 429, {wall:.0f} s ({calls / wall * 60:.0f} "
            f"calls a minute of wall time), {len(changes)} concurrency changes; {items}",
            flush=True,
        )
    same = digests["unlimited"] == digests["limited"]
    print(f"corpus: the limited run's dialogues are {'the same' if same else 'NOT the same'}", flush=True)
    return same and complete


def part_saturate(args: argparse.Namespace, scratch: Path) -> bool:
    options = ["--saturate", str(args.saturate)]
    fixed: dict[int, Load] = {}
    timing = {
        "seconds": args.sweep_seconds,
        "warmup": args.sweep_warmup,
        "timeout_s": args.client_timeout,
        "max_attempts": 3,  # a load's last calls end soon after it
    }
    with fake_server(args, scratch, options) as server:
        for concurrency in args.sweep:
            result = load(
                server.base_url,
                f"fixed {concurrency}",
                ceiling=concurrency,
                adaptive_concurrency=False,
                **timing,
            )
            fixed[concurrency] = result
            print(
                f"saturate, fixed concurrency {concurrency}: {result.rate:.2f} calls/s, "
                f"{result.failed} failed",
                flush=True,
            )
            time.sleep(SETTLE_S)  # requests the client gave up on are still under way at the server
        ceiling = max(args.sweep)
        adaptive = load(server.base_url, "adaptive", ceiling=ceiling, throttle_on_timeout=True, **timing)
        server.stats()
    best = max(fixed.values(), key=lambda result: result.rate)
    share = adaptive.rate / best.rate
    meets = share >= SATURATION_TARGET
    print(
        f"saturate, adaptive (ceiling {ceiling}, timeouts count): {adaptive.rate:.2f} calls/s, "
        f"concurrency at the end {adaptive.limit}; best fixed {best.label}: {best.rate:.2f} calls/s; "
        f"ratio {share:.3f} "
        f"(target >= {SATURATION_TARGET}) {'PASS' if meets else 'BELOW TARGET'}",
        flush=True,
    )
    return meets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rate_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="rate,corpus,saturate", help="which parts (rate,corpus,saturate)")
    parser.add_argument("--rpm", type=int, default=600, help="the server's requests per minute (600)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before measuring (60)")
    parser.add_argument("--seconds", type=float, default=90.0, help="seconds measured per rate load (90)")
    parser.add_argument(
        "--rate-ways", default="0,1,2", help="rate part: 0 headers, 1 --rpm, 2 neither (0,1,2)"
    )
    parser.add_argument("--corpus-tools", type=int, default=8, help="tools of the corpus part (8)")
    parser.add_argument(
        "--corpus-rpm", type=int, default=120, help="the corpus part's limit, below its rate of calls (120)"
    )
    parser.add_argument("--saturate", type=float, default=16.0, help="the saturating server's K (16)")
    parser.add_argument("--sweep", default="8,16,24,32,48,64", help="fixed concurrencies swept")
    parser.add_argument("--sweep-seconds", type=float, default=40.0, help="seconds measured per point (40)")
    parser.add_argument("--sweep-warmup", type=float, default=20.0, help="seconds before measuring (20)")
    parser.add_argument("--responder", default="toolforge", help="bench.responders function (toolforge)")
    add_common_args(parser, latency=1.0, concurrency=64)
    parser.set_defaults(client_timeout=3.0)
    args = parser.parse_args(argv)
    args.sweep = [int(n) for n in args.sweep.split(",")]
    args.rate_ways = {int(n) for n in args.rate_ways.split(",") if n}
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    import agents.llm  # noqa: F401  (first: keeps litellm offline)
    from agents.llm.litellm_setup import import_litellm

    import_litellm()  # set up before any load starts its clock: a run's first minute is of calls

    parts = {"rate": part_rate, "corpus": part_corpus, "saturate": part_saturate}
    ok = True
    with scratch_dir(args, "rate-bench-") as scratch:
        for name in args.parts.split(","):
            ok &= parts[name.strip()](args, scratch)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
