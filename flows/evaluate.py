"""Evaluate models on unseen tools: `python -m flows.evaluate --model M [--model M2 ...] --eval SOURCE`.

SOURCE is a run (its id, `latest` or its folder: the accepted dialogues on the tools its split holds
out, `--eval-fraction`/`--split-seed`/`--split-by` as the export took them), a file in ToolAlpaca's
evaluation format, or (with `--format bfcl`, or a folder holding `BFCL_v4_*.json`) a BFCL export, or
BFCL's official test set (`bfcl:CATEGORY[,CATEGORY...]`, `bfcl:ast`) from the installed bfcl-eval.

For each model and case, the model plays the assistant against the simulated tool executor and user
(`tasks/evaluation/play.py`); the rules find ToolAlpaca's six error kinds and BFCL's call accuracy,
the judge rates process and response (`tasks/evaluation/case.py`). The evaluation's folder,
`<out-dir>/evaluations/<eval id>/`, holds `results.parquet` (a row per model and case: trajectory,
verdicts, error kinds), `scores.parquet` (the side-by-side table), `evaluation.json` (models, the
source's hash, settings, prompt versions, scores) and `report.md`; the table is printed and is a
Prefect artifact. A BFCL source is scored by BFCL's AST check alone (`flows/evaluate_bfcl.py`; BFCL's official
set by BFCL's own checker).

The models under test, the simulators and the judge are separate: `--model` (with `--api-base` for
a served model), `--simulator-model` / `--simulator-api-base` for the user and executor, `--judge-model`.
Every call goes through the gateway and its cache: an evaluation repeated costs no call.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel

from agents.llm.errors import ModelUnavailable
from agents.llm.gateway import close_gateway, gateway_for
from agents.llm.preflight import check_models
from agents.llm.prompts import prompt_versions
from flows.evaluation_common import EvaluateConfig, evaluation_folder, new_eval_id
from flows.export import run_split
from flows.inputs import llm_with_secret_key
from flows.options import BadOption, CommandLine, ModelOptions
from flows.prefect_api import prefect_api_for
from schemas.arrow import to_table
from schemas.errors import InputError
from schemas.evaluation import EvalCase, EvalResult, EvalSet, EvaluationManifest, ModelScores
from schemas.tool import Tool
from storage.run_store import resolve_run
from tasks.evaluation.bfcl_official import is_official
from tasks.evaluation.case import evaluate_case
from tasks.evaluation.golden import cases_of_dialogs
from tasks.evaluation.scores import COLUMNS, scores_by_model, scores_table
from tasks.evaluation.toolalpaca_file import read_toolalpaca
from tasks.exports.files import atomic_file
from tasks.exports.source import ExportSource

EXIT_OK, EXIT_INPUT = 0, 2
SIMULATOR_ROLES = ("user", "executor", "judge")


def source_kind(config: EvaluateConfig) -> Literal["run", "toolalpaca", "bfcl"]:
    """What SOURCE is: as `--format` says, else BFCL's official set (`bfcl:...`) or a folder of BFCL
    files, a file (ToolAlpaca's), or a run. Found out by looking at SOURCE, so the entry points
    (`main`, `run`, `evaluate_flow`) do it once and carry the answer as `--format` (`with_kind`)."""
    if config.source_format != "auto":
        return config.source_format
    if is_official(config.source):
        return "bfcl"
    path = Path(config.source).expanduser()
    if path.is_dir() and any(path.glob("BFCL_v4_*.json")):
        return "bfcl"
    if path.is_file():
        return "toolalpaca"
    return "run"


def with_kind(config: EvaluateConfig) -> EvaluateConfig:
    """`config` with `--format` saying what SOURCE is (`source_kind`), so nothing after looks again."""
    return config.model_copy(update={"source_format": source_kind(config)})


def load_cases(config: EvaluateConfig) -> tuple[EvalSet, str]:
    """The eval set of a run's eval split or a ToolAlpaca file (limited to `limit` cases), and a
    description of where it came from."""
    if source_kind(config) == "toolalpaca":
        path = Path(config.source).expanduser()
        if not path.is_file():
            raise InputError(f"--eval {config.source}: no such file")
        evalset, where = read_toolalpaca(path), str(path.resolve())
    else:
        store, run_id = resolve_run(config.source, config.out_dir)
        split = run_split(store, run_id, config.split)
        source = ExportSource(store, run_id, split)
        evalset = cases_of_dialogs(source.dialogs("eval"), source.tools)
        where = f"run {run_id} in {store.out}, eval split ({len(split.eval_tools)} held-out tools)"
        if not evalset.cases and not evalset.rejected:
            raise InputError(
                f"the eval split of run {run_id} holds no accepted dialogue ({len(split.eval_tools)} of "
                f"{len(split.eval_tools) + len(split.train_tools)} tools held out): raise --eval-fraction "
                "or choose another --split-seed"
            )
    if config.limit is not None:
        evalset = evalset.model_copy(update={"cases": evalset.cases[: config.limit]})
    if not evalset.cases:
        reasons = "; ".join(f"{r.item_id}: {r.reason}" for r in evalset.rejected[:3])
        raise InputError(f"--eval {config.source}: no case can be evaluated ({reasons})")
    return evalset, where


def cases_sha256(cases: list[EvalCase], tools: dict[str, Tool]) -> str:
    """The hash of what is evaluated: the cases and the tools they offer, as JSON."""
    digest = hashlib.sha256()
    for case in cases:
        digest.update(case.model_dump_json().encode())
    for tool_id in sorted(tools):
        digest.update(tools[tool_id].openapi.encode())
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: EvaluationManifest) -> None:
    with atomic_file(folder / "evaluation.json") as handle:
        handle.write(manifest.model_dump_json(indent=2).encode())


def write_parquet(folder: Path, name: str, model: type[BaseModel], rows: list[Any]) -> None:
    import pyarrow.parquet as pq

    with atomic_file(folder / name) as handle:
        pq.write_table(to_table(model, rows), handle)


def report_markdown(manifest: EvaluationManifest, results: list[EvalResult]) -> str:
    """The evaluation's report: what was evaluated, the table, what the columns mean, the worst cases."""
    lines = [
        f"# Evaluation {manifest.eval_id}",
        "",
        f"- source: {manifest.source} ({manifest.source_kind}; sha256 {manifest.source_sha256[:16]}…)",
        f"- cases: {manifest.cases}; left out: {len(manifest.rejected_cases)}",
        f"- prompt format: {manifest.prompt_format}; simulators: `{manifest.llm.get('model')}`; "
        f"judge: `{manifest.settings.get('judge_model') or 'off'}`",
        "",
        scores_table(manifest.scores),
        "",
        "## Columns",
        "",
        *(f"- **{name}**: {meaning}" for name, meaning in COLUMNS.items()),
    ]
    if manifest.repaired_tools:
        lines += ["", "## Specs repaired before validation", ""]
        lines += [f"- `{tool}`: {'; '.join(notes)}" for tool, notes in manifest.repaired_tools.items()]
    if manifest.rejected_cases:
        lines += ["", "## Cases left out", ""]
        lines += [f"- `{r.item_id}`: {r.reason}" for r in manifest.rejected_cases]
    failed = [r for r in results if r.errors][:20]
    if failed:
        lines += ["", "## Errors found (first 20)", ""]
        for result in failed:
            kinds = "; ".join(f"{e.kind}: {e.detail}" for e in result.errors)
            lines.append(f"- `{result.model}` on `{result.case_id}`: {kinds}")
    return "\n".join(lines) + "\n"


@task(name="evaluate-case", task_run_name="evaluate-{case.case_id}", persist_result=False)
def evaluate_case_task(
    model: str, case: EvalCase, tools: list[Tool], config: EvaluateConfig, eval_id: str
) -> EvalResult:
    """Prefect task: one model on one case."""
    model_gateway = gateway_for(config.model_llm(model), f"{eval_id}/{model}")
    simulators = gateway_for(config.llm, f"{eval_id}/simulators")
    return evaluate_case(model, case, tools, model_gateway, simulators, config.play, judge=config.judge)


@flow(name="toolforge-evaluate", log_prints=False, persist_result=False)
def evaluate_flow(config: EvaluateConfig, eval_id: str | None = None) -> str:
    """Evaluate `config.models` on the cases of `config.source`; the evaluation's folder."""
    config = with_kind(config.model_copy(update={"llm": llm_with_secret_key(config.llm)}))
    evalset, where = load_cases(config)
    sha = cases_sha256(evalset.cases, evalset.tools)
    eval_id = eval_id or new_eval_id(sha, config)
    folder = evaluation_folder(config, eval_id)
    manifest = EvaluationManifest(
        eval_id=eval_id,
        status="running",
        created=datetime.now(UTC),
        models=config.models,
        prompt_format=config.play.prompt_format,
        source=where,
        source_kind="toolalpaca" if config.source_format == "toolalpaca" else "run",
        source_sha256=sha,
        cases=len(evalset.cases),
        rejected_cases=evalset.rejected,
        repaired_tools=evalset.repairs,
        settings={
            **config.model_dump(mode="json", include={"play", "judge", "limit", "model_api_base"}),
            "split": config.split.model_dump(mode="json") if config.source_format == "run" else None,
            "judge_model": config.llm.model_for("judge") if config.judge else None,
            "seed": config.llm.seed,
        },
        llm=config.llm.public_dump(),
        prompts=prompt_versions(),
    )
    write_manifest(folder, manifest)
    try:
        futures = [
            evaluate_case_task.submit(model, case, [evalset.tools[i] for i in case.tool_ids], config, eval_id)
            for model in config.models
            for case in evalset.cases
        ]
        results = [future.result() for future in futures]
        scores = scores_by_model(config.models, results)
        write_parquet(folder, "results.parquet", EvalResult, results)
        write_parquet(folder, "scores.parquet", ModelScores, scores)
        manifest = manifest.model_copy(
            update={"scores": scores, "status": "completed", "finished": datetime.now(UTC)}
        )
        report = report_markdown(manifest, results)
        with atomic_file(folder / "report.md") as handle:
            handle.write(report.encode())
        write_manifest(folder, manifest)
    except BaseException as exc:
        write_manifest(folder, manifest.model_copy(update={"status": "failed", "error": str(exc)[:1000]}))
        raise
    finally:
        for model in config.models:
            close_gateway(f"{eval_id}/{model}")
        close_gateway(f"{eval_id}/simulators")
    if FlowRunContext.get() is not None:
        create_markdown_artifact(report, key="evaluation-scores", description=f"Evaluation {eval_id}")
    return str(folder)


def check_evaluation_models(config: EvaluateConfig) -> None:
    """ModelUnavailable for a model under test, simulator or judge that cannot serve (credentials,
    an unknown model, a server nothing answers on), before anything runs."""
    roles = ["user", "executor", *(["judge"] if config.judge else [])]
    check_models(gateway_for(config.llm, "evaluate-check"), roles)
    for model in config.models:
        check_models(gateway_for(config.model_llm(model), f"evaluate-check/{model}"), ["assistant"])


def run(config: EvaluateConfig) -> str:
    """Check the models, then run the flow (Prefect's server starting meanwhile); the folder."""
    config = with_kind(config.model_copy(update={"llm": llm_with_secret_key(config.llm)}))
    with prefect_api_for() as api_ready:
        load_cases(config)  # bad input fails here, in seconds, before any model is asked
        check_evaluation_models(config)
        api_ready()
        concurrency = max(1, config.llm.concurrency)
        runner = ThreadPoolTaskRunner(max_workers=concurrency)
        return evaluate_flow.with_options(task_runner=runner)(config)


COMMAND = CommandLine(
    "python -m flows.evaluate",
    "Evaluate models on tools they have not seen: ToolAlpaca's procedure, response and overall "
    "accuracy, its six error kinds, and BFCL's call accuracy, the models side by side. Prints the "
    "table, then the evaluation's folder as the last line.",
    (ModelOptions(EvaluateConfig),),
)


def print_scores(folder: str) -> None:
    manifest = EvaluationManifest.model_validate_json((Path(folder) / "evaluation.json").read_text())
    print(scores_table(manifest.scores), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """The command line: the table on stderr and the evaluation's folder on stdout, status 0; else one
    `error:` line on stderr and 2 (bad input, a model that cannot serve)."""
    try:
        (config,) = COMMAND.parse(argv)
    except BadOption as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    try:
        config = with_kind(config)
        if config.source_format == "bfcl":
            from flows.evaluate_bfcl import run_bfcl

            folder = run_bfcl(config)
        else:
            folder = run(config)
            print_scores(folder)
    except (InputError, ModelUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(folder, flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
