"""The closed loop, measured: a fake-server corpus -> SmolLM2-135M fine-tuned on its train split on
the CPU -> the base and the trained model side by side on the held-out tools.

    python -m bench.train_bench [--tools 100] [--instructions-per-tool 3] [--max-steps 80] [--keep]

1. `python -m flows.corpus` against the fake LLM server (a child process, `bench.responders:grounded`:
   its assistant takes argument values from the request, the place the user names, as a capable model
   would; the `varied` assistant's random calls are noise no model can learn): `--tools` APIs sampled
   from the shared 2022 public-apis snapshot, every dialogue type, split by whole tools at export.
2. `python -m flows.train --base local/smollm2 --format react --evaluate`: LoRA on the `react` export's
   train split (ToolAlpaca's format, the one `flows.evaluate` asks in by default), then the base and
   the trained model play the assistant on every held-out case, the fake server simulating the user
   and the tool executor, and the judge off (the fake judge's verdicts are canned, so procedure and
   response say nothing here: call accuracy and the six error kinds are the rules').
3. `python -m flows.evaluate --eval bfcl:simple_python,multiple,irrelevance --limit 10` with the
   same two models (`--bfcl`, `--bfcl-limit`; 256 tokens per answer, more than a call takes): BFCL's
   official questions, scored by BFCL's own checker. Irrelevance (answering with no call where no
   function fits) is where fine-tuning on calls most often costs a model. Needs the `bfcl` extra;
   `--bfcl ''` leaves this step out.

Each command is timed from outside (wall time, the largest child's peak RSS). The verdict: PASS when
the trained model has a higher call accuracy and fewer parse errors than its base.

What it shows: the loop runs on a 2-core CPU in under an hour, and a 135M model learns ToolForge's
protocol (the ReAct steps, function names, JSON inputs) from a ToolForge corpus, on tools it never
saw. What it cannot show: whether the data is good. The fake server writes canned, valid text; a
capable model's corpus is what a real fine-tune is for.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.harness import MODEL, REPO, command_env, fake_server, run_folder, scratch_dir, seed_file
from schemas.errors import InputError
from schemas.evaluation import EvaluationManifest
from schemas.training import PROMPT_FORMAT_OF, TrainingMetrics
from tasks.evaluation import bfcl_official as official
from tasks.evaluation.scores import scores_difference


def timed(command: list[str], env: dict[str, str], what: str) -> tuple[list[str], float]:
    """Run a command that must succeed: (its stdout lines, wall s); its stderr passes through."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed ({done.returncode})")
    return done.stdout.strip().splitlines(), time.perf_counter() - started


def peak_rss_gib() -> float:
    """The largest peak RSS of the children waited for so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20


def bfcl_scores(
    args: argparse.Namespace, models: list[str], env: dict[str, str], cache: str, scratch: Path
) -> tuple[dict[str, dict[str, float]], float]:
    """The base and the trained model on BFCL's official questions, scored by BFCL's checker, asked
    in the format trained: (accuracy per category and BFCL's averages, by model; the command's wall s)."""
    command = [
        sys.executable, "-m", "flows.evaluate",
        "--eval", f"bfcl:{args.bfcl}", "--limit", str(args.bfcl_limit),
        *[part for model in models for part in ("--model", model)],
        "--prompt-format", PROMPT_FORMAT_OF[args.format], "--step-tokens", "256",
        "--out", str(scratch / "out"), "--cache-dir", cache,
    ]  # fmt: skip
    lines, wall_s = timed(command, env, "the BFCL evaluation")
    summary = json.loads((Path(lines[-1]) / "bfcl_scores.json").read_text(encoding="utf-8"))
    return summary["accuracy"], wall_s


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.train_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--tools", type=int, default=100, help="APIs sampled from the seed list (100)")
    parser.add_argument("--instructions-per-tool", type=int, default=3, help="instructions per tool (3)")
    parser.add_argument("--eval-fraction", type=float, default=0.1, help="share of tools held out (0.1)")
    parser.add_argument("--max-steps", type=int, default=80, help="optimizer steps (80)")
    parser.add_argument("--batch-size", type=int, default=2, help="rows per step (2)")
    parser.add_argument("--learning-rate", type=float, default=5e-4, help="peak learning rate (5e-4)")
    parser.add_argument("--max-length", type=int, default=1536, help="tokens per row (1536)")
    parser.add_argument("--format", choices=["react", "chat"], default="react", help="what to train (react)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N held-out cases only")
    parser.add_argument("--seed-file", default=None, help="seed list (default: the shared 2022 snapshot)")
    parser.add_argument(
        "--bfcl", default="simple_python,multiple,irrelevance", help="BFCL categories to score on ('': none)"
    )
    parser.add_argument("--bfcl-limit", type=int, default=10, help="BFCL questions per category (10)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir (run store, model)")
    args = parser.parse_args(argv)
    if args.bfcl:
        try:
            official.version()
        except InputError as error:
            parser.error(f"--bfcl: {error}")
    args.latency, args.fault_rate, args.fault_kinds, args.client_timeout = 0.0, 0.0, "429", 5.0
    args.responder = "grounded"
    started = time.perf_counter()
    with scratch_dir(args, "toolforge-train-bench-") as scratch, fake_server(args, scratch) as server:
        env = command_env(scratch / "prefect-home")
        cache = str(scratch / "cache")
        corpus = [
            sys.executable, "-m", "flows.corpus",
            "--seeds", str(seed_file(args)), "--sample", str(args.tools),
            "--instructions-per-tool", str(args.instructions_per_tool),
            "--model", MODEL, "--api-base", server.base_url, "--concurrency", "16",
            "--out", str(scratch / "out"), "--cache-dir", cache,
        ]  # fmt: skip
        corpus_started = time.perf_counter()
        run_dir = run_folder(corpus, env, f"the corpus of {args.tools} tools")
        corpus_s = time.perf_counter() - corpus_started
        print(f"corpus: {run_dir.name} in {corpus_s:.0f} s", file=sys.stderr, flush=True)
        out = scratch / "model"
        train = [
            sys.executable, "-m", "flows.train",
            "--corpus", str(run_dir), "--base", "local/smollm2", "--out", str(out),
            "--format", args.format, "--max-steps", str(args.max_steps), "--batch-size", str(args.batch_size),
            "--learning-rate", str(args.learning_rate), "--max-length", str(args.max_length),
            "--save-steps", str(max(args.max_steps // 4, 1)), "--eval-fraction", str(args.eval_fraction),
            "--evaluate", "--no-judge", "--simulator-model", MODEL, "--simulator-api-base", server.base_url,
            "--cache-dir", cache, *(["--limit", str(args.limit)] if args.limit else []),
        ]  # fmt: skip
        lines, train_s = timed(train, env, "the training")
        metrics = TrainingMetrics.model_validate_json((out / "metrics.json").read_text(encoding="utf-8"))
        evaluation = EvaluationManifest.model_validate_json((Path(lines[-2]) / "evaluation.json").read_text())
        bfcl_rows, bfcl_s = ({}, 0.0)
        if args.bfcl:
            bfcl_rows, bfcl_s = bfcl_scores(args, evaluation.models, env, cache, scratch)
    base, trained = evaluation.scores[0], evaluation.scores[-1]
    better_calls = (trained.call_accuracy or 0.0) > (base.call_accuracy or 0.0)
    fewer_parse = trained.errors.get("parse_error", 0) < base.errors.get("parse_error", 0)
    total_s = time.perf_counter() - started
    print()
    print(scores_difference(evaluation.scores))
    print()
    figures = {
        "tools": args.tools,
        "held-out tools": metrics.split["eval_tools"],
        "train rows used / read": f"{metrics.train_rows.used} / {metrics.train_rows.rows}",
        "rows cut / left out": f"{metrics.train_rows.cut} / {len(metrics.train_rows.left_out)}",
        "steps": metrics.steps,
        "tokens seen": metrics.tokens_seen,
        "training tokens/s": metrics.tokens_per_s,
        "held-out loss before -> after": f"{metrics.eval_loss_before:.4f} -> {metrics.eval_loss:.4f}"
        if metrics.eval_loss is not None and metrics.eval_loss_before is not None
        else "n/a",
        "cases evaluated per model": trained.cases,
        "corpus command, wall s": round(corpus_s, 1),
        "train + evaluate command, wall s": round(train_s, 1),
        "training alone, wall s": metrics.wall_s,
        "BFCL command, wall s": round(bfcl_s, 1),
        "whole benchmark, wall s": round(total_s, 1),
        "peak RSS of a child, GiB": round(peak_rss_gib(), 2),
        "device": metrics.device,
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    for model, row in bfcl_rows.items():
        print(f"BFCL {'trained' if model == evaluation.models[-1] else 'base'} ({model}): {json.dumps(row)}")
    verdict = "PASS" if better_calls and fewer_parse else "FAIL"
    print(
        f"verdict: call accuracy {base.call_accuracy} -> {trained.call_accuracy}, parse errors "
        f"{base.errors.get('parse_error', 0)} -> {trained.errors.get('parse_error', 0)}: {verdict}"
    )
    print(json.dumps({"figures": figures, "bfcl": bfcl_rows, "verdict": verdict}), file=sys.stderr)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
