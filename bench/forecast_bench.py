"""How well a forecast holds: `--forecast` on a sample of the seed list, then the run itself, against
the fake server, and the run's figures beside the forecast's intervals (the manifest's `forecast`).

    python -m bench.forecast_bench [--sample 100] [--forecast-tools 6] [--latency 1] [--concurrency 32]

The run's seeds are a stratified `--sample` of the shared 2022 public-apis snapshot (or `--seed-file`);
the model is `openai/gpt-4o-mini` on the fake server, so litellm's prices count the dollars. Prints
each figure (forecast, interval, actual, within) and both commands' wall time and peak memory, as
`/usr/bin/time` would (`resource.getrusage` of the children). Exit 0 when the calls, tokens, dollars
and accepted dialogues fell within their intervals (the wall time is reported, not held to it: the
forecast leaves out the run's own work on the CPU).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from bench.harness import add_common_args, command_env, fake_server, run_folder, scratch_dir, seed_file

HELD = ("model calls", "prompt tokens", "completion tokens", "USD", "dialogues accepted")
MODEL = "openai/gpt-4o-mini"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser, latency=1.0, concurrency=32)
    parser.set_defaults(model=MODEL, client_timeout=30.0)
    parser.add_argument("--sample", type=int, default=100, help="seeds of the run, a stratified sample (100)")
    parser.add_argument("--forecast-tools", type=int, default=6, help="seeds of the forecast's sample (6)")
    args = parser.parse_args(argv)
    with scratch_dir(args, "forecast-bench-") as scratch, fake_server(args, scratch) as server:
        env = command_env(scratch / "prefect") | {"OPENAI_API_KEY": "fake"}
        command = [
            sys.executable, "-m", "flows.corpus",
            "--seeds", str(seed_file(args)), "--sample", str(args.sample),
            "--out", str(scratch / "out"), "--cache-dir", str(scratch / "cache"), "--model", args.model,
            "--api-base", server.base_url, "--concurrency", str(args.concurrency),
            "--timeout", str(args.client_timeout),
        ]  # fmt: skip
        timings = []
        for what, extra in (
            ("forecast", ["--forecast", "--forecast-tools", str(args.forecast_tools)]),
            ("run", []),
        ):
            started = time.monotonic()
            path = run_folder([*command, *extra], env, what)
            peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            timings.append(
                f"{what}: {time.monotonic() - started:.1f} s wall, peak {peak_mib:.0f} MiB (so far)"
            )
        manifest = json.loads((path / "manifest.json").read_text())
    print("\n".join(timings))
    check = manifest["forecast"]
    if check is None:
        raise SystemExit("the run found no forecast of its work")
    print(f"{'figure':28} {'forecast':>14} {'interval':>29} {'actual':>14} within")
    for figure in check["figures"]:
        low, value, high = (figure["forecast"][k] for k in ("low", "value", "high"))
        form = (
            "{:,.6f}" if figure["name"].startswith("USD") else "{:,.2f}"
        )  # a dialogue costs fractions of a cent
        interval = f"{form.format(low)}-{form.format(high)}"
        actual, within = form.format(figure["actual"]), figure["within"]
        print(f"{figure['name']:28} {form.format(value):>14} {interval:>29} {actual:>14} {within}")
    held = all(figure["within"] for figure in check["figures"] if figure["name"] in HELD)
    verdict = "PASS" if held else "MISSED"
    print(f"calls, tokens, dollars and accepted dialogues within their intervals: {verdict}")
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
