"""Fine-tune a compact model on a corpus: `python -m flows.train --corpus RUN --base MODEL --out DIR`.

The loop ToolAlpaca and ToolACE end in, in one command: the corpus run's export (made when missing:
`hf` for `--format chat`, `react` for `--format react`), its **train split only** (whole tools held
out), TRL's `SFTTrainer` with LoRA (or `--full`) on the assistant's tokens only, the checkpoint saved
merged with its tokenizer, chat template, model card, `metrics.json` and loss curve, and with
`--evaluate` the base and the trained model side by side on the run's held-out tools.

1. `prepare`: the export, the base, the device, the chat template, every row encoded and checked
   (`tasks/training/rows.py`): nothing is trained before every row is accounted for.
2. `fine_tune`: checkpoints every `--save-steps` under `<out>.training/`, which `--resume` continues
   from; the finished folder is moved onto `--out` whole.
3. `evaluate` (with `--evaluate`): `flows.evaluate` on the run's eval split, in the format trained.

`train_flow` is the same as a Prefect flow, for a deployment to run.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import posixpath
import shutil
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext
from pydantic import BaseModel, Field, model_validator

from agents.llm.config import EMBEDDED_MODEL, LLMConfig
from agents.llm.errors import ModelUnavailable
from agents.llm.gateway import gateway_for
from agents.llm.preflight import check_models
from flows.evaluate import EvaluateConfig, evaluate_flow
from flows.evaluation_common import SIMULATORS, simulator_defaults
from flows.export import ExportSettings, default_folder, export_run, replace_folder, run_split
from flows.inputs import llm_with_secret_key
from flows.options import BadOption, CommandLine, ModelOptions
from flows.prefect_api import prefect_api_for
from schemas.errors import InputError
from schemas.evaluation import EvaluationManifest
from schemas.export import ExportSummary
from schemas.option import Option
from schemas.training import (
    EXPORT_OF_FORMAT,
    PROMPT_FORMAT_OF,
    TrainingMetrics,
    TrainingRows,
    TrainSettings,
)
from storage.run_store import MANIFEST, RunStore, resolve_run
from tasks.evaluation.play import PlaySettings
from tasks.evaluation.scores import scores_difference
from tasks.exports.files import atomic_file
from tasks.training import base_model, chat_template, rows
from tasks.training.model_card import LOSS_CHART, loss_chart, model_card
from tasks.training.trainer import Progress, fine_tune, library_notes_off

EXIT_OK, EXIT_INPUT = 0, 2
METRICS, CARD, TRAIN_LOG, CONFIG = "metrics.json", "README.md", "train.log", "train-config.json"
BASE_SUFFIX, WORK_SUFFIX = ".base", ".training"


EVALUATION = "with --evaluate: the evaluation of the base and the trained model"


class TrainConfig(BaseModel):
    """What to train, from what, and whether to evaluate it after."""

    corpus: Annotated[str, Option(metavar="RUN")] = Field(
        default="latest", description="A run id, latest, a run folder, or an export folder."
    )
    base: Annotated[str, Option(metavar="MODEL")] = Field(
        default=EMBEDDED_MODEL, description="A model folder, a .gguf file, or local/smollm2."
    )
    out: Annotated[str, Option(metavar="DIR")] = Field(
        description="The checkpoint folder to write (replaced whole)."
    )
    out_dir: Annotated[str, Option(metavar="DIR")] = Field(
        default="out", description="The run store the corpus run is in."
    )
    train: TrainSettings = Field(default_factory=TrainSettings)
    split: Annotated[
        ExportSettings,
        Option(
            group="the split of an export made here (when the run has none)",
            only=("eval_fraction", "split_seed", "split_by"),
        ),
    ] = Field(default_factory=ExportSettings, description="The split of an export made here (when missing).")
    resume: bool = Field(default=False, description="Continue a training into --out that was stopped.")
    evaluate: bool = Field(
        default=False, description="Then evaluate the base and the trained model on the held-out tools."
    )
    judge: Annotated[bool, Option(flag="no-judge", group=EVALUATION)] = Field(
        default=True,
        description="Ask the judge role for process and response verdicts (--no-judge: the rules only).",
    )
    judge_model: Annotated[str | None, Option(metavar="MODEL", group=EVALUATION)] = Field(
        default=None, description="The judge's model (default: the simulators')."
    )
    limit: Annotated[int | None, Option(metavar="N", group=EVALUATION)] = Field(
        default=None, ge=1, description="Evaluate the first N cases only."
    )
    llm: Annotated[
        LLMConfig,
        replace(SIMULATORS, group=EVALUATION, only=("model", "api_base", "concurrency", "cache_dir")),
    ] = Field(
        default_factory=simulator_defaults,
        description="With evaluate: the simulators' and the judge's models.",
    )

    @model_validator(mode="after")
    def _judge_model(self) -> TrainConfig:
        self.llm = self.llm.with_role("judge", self.judge_model)
        return self


@dataclass
class Corpus:
    """The export trained on, and the run it was made from."""

    folder: Path
    summary: ExportSummary
    store: RunStore
    run_id: str
    manifest_sha256: str

    @property
    def run_folder(self) -> str:
        return self.store.run_dir(self.run_id)


def resolve_corpus(config: TrainConfig, say: Any = None) -> Corpus:
    """The export `config.corpus` names, made (from a run) when missing; InputError when it is of the
    other format, or its run cannot be found."""
    wanted = EXPORT_OF_FORMAT[config.train.format]
    given = Path(config.corpus).expanduser()
    if (given / "export.json").is_file():
        summary = ExportSummary.model_validate_json((given / "export.json").read_text(encoding="utf-8"))
        if summary.format != wanted:
            raise InputError(
                f"--corpus {config.corpus} is a {summary.format} export; --format {config.train.format} "
                f"trains on a {wanted} export"
            )
        store, run_id = _run_of_export(given.resolve(), summary.run_id, config.out_dir)
        folder = given.resolve()
    else:
        store, run_id = resolve_run(config.corpus, config.out_dir)
        folder = default_folder(store, run_id, wanted)
        if not (folder / "export.json").is_file():
            if say:
                say(f"exporting run {run_id} as {wanted} to {folder}")
            export_run(store, run_id, wanted, folder, run_split(store, run_id, config.split), config.split)
        summary = ExportSummary.model_validate_json((folder / "export.json").read_text(encoding="utf-8"))
    manifest = store.fs.cat_file(posixpath.join(store.run_dir(run_id), MANIFEST))
    return Corpus(folder, summary, store, run_id, hashlib.sha256(manifest).hexdigest())


def _run_of_export(folder: Path, run_id: str, out_dir: str) -> tuple[RunStore, str]:
    """The run an export folder was made from: the run folder it sits in, else run `run_id` of
    `out_dir`."""
    run_folder = folder.parent.parent
    if folder.parent.name == "exports" and run_folder.name == run_id and run_folder.parent.name == "runs":
        return resolve_run(str(run_folder), out_dir)
    try:
        return resolve_run(run_id, out_dir)
    except InputError:
        raise InputError(
            f"the export {folder} is of run {run_id}, which is not in {out_dir}: give --out-dir, the run "
            "store it is in"
        ) from None


def work_folder(out: Path) -> Path:
    """Where a training into `out` keeps its checkpoints until it is done: `<out>.training` beside it."""
    return out.with_name(out.name + WORK_SUFFIX)


def base_copy_folder(out: Path) -> Path:
    """Where `--evaluate` keeps the base as it is evaluated (its weights with the template trained)."""
    return out.with_name(out.name + BASE_SUFFIX)


def check_work_folder(config: TrainConfig, out: Path) -> None:
    """InputError for a stopped training into `out` without --resume, for --resume with nothing to
    resume, and for --resume with other settings than the stopped training's."""
    work = work_folder(out)
    stored = work / CONFIG
    if not config.resume:
        if work.exists():
            raise InputError(
                f"a training into {out} was stopped midway (its checkpoints are in {work}): --resume "
                "continues it; remove that folder to start over"
            )
        return
    if not stored.is_file():
        raise InputError(f"--resume: no stopped training into {out} ({work} holds none)")
    before = TrainConfig.model_validate_json(stored.read_text(encoding="utf-8"))
    keys = ("corpus", "base", "train")
    changed = [k for k in keys if getattr(before, k) != getattr(config, k)]
    if changed:
        raise InputError(
            f"--resume: the stopped training had other {', '.join(changed)} than this command's; "
            f"give the same, or remove {work} to start over"
        )


def model_string(out: Path, fmt: str) -> str:
    """What `flows.evaluate --model` takes for a checkpoint trained in `fmt`: a react model is asked
    in the raw text it was trained on, whatever its tokenizer's template."""
    return f"hf/{out}" + ("#raw" if fmt == "react" else "")


def _versions() -> dict[str, str]:
    found = {}
    for package in ("torch", "transformers", "trl", "peft", "datasets"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


class Log:
    """Progress lines: on stderr and, once the work folder exists, in its `train.log`."""

    def __init__(self) -> None:
        self.path: Path | None = None

    def __call__(self, line: str) -> None:
        stamped = f"{datetime.now(UTC):%H:%M:%S} {line}"
        print(f"train: {line}", file=sys.stderr, flush=True)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(stamped + "\n")


@dataclass
class Setup:
    """What a training starts from, every part checked: the export, the base, where it runs, and the
    tokenizer with the chat template rows are rendered by (None for react text)."""

    corpus: Corpus
    base: base_model.BaseRef
    device: base_model.Device
    tokenizer: Any
    template: str | None
    template_source: str

    def encoded(self, config: TrainConfig, split: str, until_used: int | None = None) -> rows.Prepared:
        """One split's rows, encoded and checked (`tasks/training/rows.py`)."""
        fmt = config.train.format
        found = rows.export_rows(self.corpus.folder, fmt, split)
        return rows.prepare(
            self.tokenizer, fmt, found, split, config.train.max_length, self.template, until_used
        )


def setup(config: TrainConfig, say: Log | None = None) -> Setup:
    """Check and load what the training needs, short of the model; InputError naming what is wrong:
    a stopped training in the way, the corpus, the base, the modules, the device, the template."""
    check_work_folder(config, Path(config.out).expanduser().resolve())
    settings = config.train
    if settings.chat_template and settings.format == "react":
        raise InputError("--chat-template: react rows are raw text; the template is for --format chat")
    base = base_model.resolve_base(config.base)
    base_model.check_installed(base)
    device = base_model.pick_device(settings.device)
    corpus = resolve_corpus(config, say)
    tokenizer = base_model.load_tokenizer(base)
    if settings.format == "react":
        return Setup(corpus, base, device, tokenizer, None, "the base's (react text needs none)")
    chosen = chat_template.training_template(tokenizer, settings.chat_template)
    tokenizer.chat_template = chosen.text
    return Setup(corpus, base, device, tokenizer, chosen.text, chosen.source)


def no_training_row(config: TrainConfig, corpus: Corpus, report: TrainingRows) -> InputError:
    reasons = "; ".join(sorted({r.reason for r in report.left_out})[:3]) or "the split is empty"
    return InputError(
        f"--corpus {config.corpus}: no training row in {corpus.folder} ({report.rows} rows read from its "
        f"train split: {reasons})"
    )


def train_model(config: TrainConfig, callbacks: list[Any] | None = None, say: Log | None = None) -> Path:
    """Train as `config` says; the checkpoint folder. A plain function: the flow and the tests call it."""
    say = say or Log()
    quiet_progress_bars()
    started, clock = datetime.now(UTC), time.monotonic()
    out = Path(config.out).expanduser().resolve()
    settings = config.train
    ready = setup(config, say)
    corpus, base, device, tokenizer = ready.corpus, ready.base, ready.device, ready.tokenizer
    template_source = ready.template_source
    train_rows, eval_rows = ready.encoded(config, "train"), ready.encoded(config, "eval")
    report = train_rows.report
    if not report.used:
        raise no_training_row(config, corpus, report)
    work = work_folder(out)
    work.mkdir(parents=True, exist_ok=True)
    say.path = work / TRAIN_LOG
    (work / CONFIG).write_text(config.model_dump_json(indent=2), encoding="utf-8")
    for checked in (report, eval_rows.report):
        say(
            f"{checked.split} rows: {checked.used} of {checked.rows} used, {checked.cut} cut to "
            f"{settings.max_length} tokens, {len(checked.left_out)} left out; {checked.tokens:,} tokens "
            f"({checked.loss_tokens:,} with loss)"
        )
        for left in checked.left_out[:5]:
            say(f"  left out {left.row_id}: {left.reason}")
    model = base_model.load_model(base, device)
    if config.evaluate and needs_base_copy(config, base, template_source):
        copy = base_copy_folder(out)
        model.save_pretrained(copy)
        tokenizer.save_pretrained(copy)
    say(
        f"training {base.name} ({model.config.model_type}, {model.num_parameters():,} parameters) on "
        f"{device.kind} ({device.name}), {'full' if settings.full else 'LoRA'}, format {settings.format}"
    )
    before_file = work / "eval-loss-before.json"
    before = json.loads(before_file.read_text())["loss"] if before_file.is_file() else None
    building = work / "model"
    shutil.rmtree(building, ignore_errors=True)
    with library_notes_off():
        outcome = fine_tune(
            model, tokenizer, train_rows.columns, eval_rows.columns, settings, device, work, Progress(say),
            eval_loss_before=before, resume=config.resume, save_to=building, callbacks=callbacks,
        )  # fmt: skip
    if before is None and outcome.eval_loss_before is not None:
        before_file.write_text(json.dumps({"loss": outcome.eval_loss_before}))
    wall_s = time.monotonic() - clock
    metrics = TrainingMetrics(
        base=config.base,
        base_path=str(base.path),
        architecture=model.config.model_type,
        parameters=model.num_parameters(),
        trainable_parameters=outcome.trainable_parameters,
        corpus_run_id=corpus.run_id,
        corpus_manifest_sha256=corpus.manifest_sha256,
        export=str(corpus.folder),
        format=settings.format,
        prompt_format=PROMPT_FORMAT_OF[settings.format],
        model_string=model_string(out, settings.format),
        split=corpus.summary.split.model_dump(include={"eval_fraction", "seed", "unit"})
        | {
            "train_tools": len(corpus.summary.split.train_tools),
            "eval_tools": len(corpus.summary.split.eval_tools),
        },
        chat_template=template_source,
        settings=settings,
        train_rows=report,
        eval_rows=eval_rows.report,
        steps=outcome.steps,
        epochs_done=outcome.epochs_done,
        tokens_seen=outcome.tokens_seen,
        train_loss=outcome.train_loss,
        eval_loss=outcome.eval_loss,
        eval_loss_before=outcome.eval_loss_before,
        losses=outcome.losses,
        wall_s=round(wall_s, 1),
        tokens_per_s=round(outcome.tokens_seen / max(outcome.train_wall_s, 1e-9), 1),
        device=f"{device.kind}: {device.name}",
        dtype="bfloat16" if device.bf16 else "float32",
        resumed_from_step=outcome.resumed_from_step,
        started=started,
        finished=datetime.now(UTC),
        versions=_versions(),
    )
    with atomic_file(building / METRICS) as handle:
        handle.write(metrics.model_dump_json(indent=2).encode())
    (building / CARD).write_text(model_card(metrics), encoding="utf-8")
    loss_chart(metrics, building / LOSS_CHART)
    shutil.copyfile(work / TRAIN_LOG, building / TRAIN_LOG)
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_folder(building, out)
    shutil.rmtree(work, ignore_errors=True)
    del model
    gc.collect()  # the trainer's cycles hold the model: free it before an evaluation loads two more
    say.path = None
    say(
        f"done: {outcome.steps} steps, {outcome.tokens_seen:,} tokens in {wall_s:.0f} s; held-out loss "
        f"{_fmt(outcome.eval_loss_before)} -> {_fmt(outcome.eval_loss)}; {out}"
    )
    return out


def quiet_progress_bars() -> None:
    """No tqdm bars from transformers' loading or datasets' maps: the run's own lines say where it is."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def needs_base_copy(config: TrainConfig, base: base_model.BaseRef, template_source: str) -> bool:
    """Whether the base must be saved to be evaluated as it was trained from: a GGUF base (no model
    folder), or a chat template that is not the base's own."""
    return base.gguf_file is not None or (config.train.format == "chat" and template_source != "base")


def base_model_string(config: TrainConfig, out: Path) -> str:
    """The base as `flows.evaluate --model` takes it, in the format trained."""
    base = base_model.resolve_base(config.base)
    copy = base_copy_folder(out)
    folder = copy if copy.is_dir() else base.folder
    return model_string(folder, config.train.format)


def evaluation_config(config: TrainConfig, corpus: Corpus, out: Path) -> EvaluateConfig:
    """The evaluation `--evaluate` runs: the base and the trained model on the run's held-out tools,
    split as the export was, in the format trained."""
    split = corpus.summary.split
    return EvaluateConfig(
        models=[base_model_string(config, out), model_string(out, config.train.format)],
        source=corpus.run_folder,
        out_dir=corpus.store.out if "://" not in corpus.store.out else "out",
        split=ExportSettings(eval_fraction=split.eval_fraction, split_seed=split.seed, split_by=split.unit),
        play=PlaySettings(prompt_format=PROMPT_FORMAT_OF[config.train.format]),  # type: ignore[arg-type]
        judge=config.judge,
        llm=config.llm,
        limit=config.limit,
    )


@task(name="train-model", persist_result=False)
def train_task(config: TrainConfig) -> str:
    return str(train_model(config))


@flow(name="toolforge-train", log_prints=False, persist_result=False)
def train_flow(config: TrainConfig) -> dict[str, str | None]:
    """Fine-tune on a corpus, then (with `config.evaluate`) evaluate the base and the trained model."""
    out = Path(train_task(config))
    metrics = TrainingMetrics.model_validate_json((out / METRICS).read_text(encoding="utf-8"))
    if FlowRunContext.get() is not None:
        create_markdown_artifact(
            (out / CARD).read_text(encoding="utf-8").split("---\n", 2)[-1],
            key="training",
            description=f"Training of {metrics.base} on {metrics.corpus_run_id}",
        )
    evaluation = None
    if config.evaluate:
        corpus = resolve_corpus(config)
        evaluation = evaluate_flow(evaluation_config(config, corpus, out))
    return {"model": str(out), "evaluation": evaluation}


def check_before_training(config: TrainConfig) -> None:
    """Everything that can be refused before hours of training, in seconds: what `setup` checks, a
    first training row the model can learn from, and (with --evaluate) the simulators' and judge's
    models."""
    ready = setup(config, Log())
    first = ready.encoded(config, "train", until_used=1).report
    if not first.used:
        raise no_training_row(config, ready.corpus, first)
    if config.evaluate:
        roles = ["user", "executor", *(["judge"] if config.judge else [])]
        check_models(gateway_for(llm_with_secret_key(config.llm), "train-check"), roles)


def run(config: TrainConfig) -> dict[str, str | None]:
    """Check what can be checked (in seconds, before any model loads), then run the flow."""
    check_before_training(config)
    with prefect_api_for() as api_ready:
        api_ready()
        return train_flow(config)


COMMAND = CommandLine(
    "python -m flows.train",
    "Fine-tune a compact model on a corpus run's train split (TRL, LoRA by default), loss on the "
    "assistant's tokens only; with --evaluate, the base and the trained model side by side on the "
    "run's held-out tools. Prints the checkpoint folder as the last line.",
    (ModelOptions(TrainConfig),),
)


def print_comparison(folder: str) -> None:
    manifest = EvaluationManifest.model_validate_json((Path(folder) / "evaluation.json").read_text())
    print(scores_difference(manifest.scores), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """The command line: progress on stderr, the checkpoint folder (and with --evaluate the table and
    the evaluation's folder) on stdout, status 0; else one `error:` line on stderr and 2."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # no bars from loading and mapping: the run's lines say it
    try:
        (config,) = COMMAND.parse(argv)
    except BadOption as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    try:
        made = run(config)
    except (InputError, ModelUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if made["evaluation"]:
        print_comparison(made["evaluation"])
        print(made["evaluation"], flush=True)
    print(made["model"], flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
