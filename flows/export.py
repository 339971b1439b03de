"""The corpus as trainers and benchmarks read it: `python -m flows.export RUN --format F [--out DIR]`.

RUN is a run id, `latest` or a run folder. The run's tools are split into train and eval
(`--eval-fraction`, `--split-seed`, `--split-by tool|category`: whole tools or whole categories
held out, reproducibly; `tasks/split.py`); each format (`tasks/exports/<format>.py`) writes the
accepted dialogues of both splits (BFCL: the eval split only), then the folder gets the split
(`split.json`), the export's summary (`export.json`) and a dataset card (`README.md`). The folder,
`<run folder>/exports/<format>` unless `--out` says (`--format all`: one folder per format under
it), is built beside its final place and moved there whole, so an export is never half old, half new.

`export_flow` is the same as a Prefect flow (a task per format), for a deployment to run.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Literal

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext
from pydantic import BaseModel, Field, field_validator

from flows.cli import RunCommand
from flows.options import BadOption, CommandLine, ModelOptions
from schemas.errors import InputError
from schemas.export import EXPORT_FORMATS, ExportFile, ExportFormat, ExportSummary, Split, SplitUnit
from schemas.option import Option
from schemas.tool import Tool
from storage.run_store import RunStore, resolve_run
from tasks.card import dataset_card
from tasks.exports import bfcl, hf, openai, react, sharegpt, toolalpaca
from tasks.exports.files import file_info, write_json, write_text
from tasks.exports.source import ExportSource
from tasks.split import split_tools
from tasks.statistics import corpus_statistics

EXIT_OK, EXIT_INPUT = 0, 2
EXPORTERS: dict[ExportFormat, ModuleType] = {
    "openai": openai,
    "hf": hf,
    "sharegpt": sharegpt,
    "react": react,
    "toolalpaca": toolalpaca,
    "bfcl": bfcl,
}
SPLIT_FILE, SUMMARY_FILE, CARD_FILE = "split.json", "export.json", "README.md"


class ExportSettings(BaseModel):
    """How to split and label an export."""

    eval_fraction: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Share of a run's tools held out for evaluation."
    )
    split_seed: int = Field(default=0, description="Seed of the split: the same seed, the same split.")
    split_by: SplitUnit = Field(default="tool", description="Hold out whole tools, or whole categories.")
    license: str = Field(default="mit", description="The license the dataset card declares.")


def run_split(store: RunStore, run_id: str, settings: ExportSettings) -> Split:
    """The split of a completed run's tools (made once, whatever the number of formats); InputError
    for a run that did not complete."""
    status = store.read_manifest(run_id).status
    if status != "completed":
        raise InputError(f"run {run_id} is {status}, not completed: finish it first (--resume)")
    tools = store.iter_records(run_id, "tools", Tool) if store.has_artifact(run_id, "tools") else []
    pairs = [(tool.tool_id, tool.category) for tool in tools]
    return split_tools(pairs, settings.eval_fraction, settings.split_seed, settings.split_by)


def default_folder(store: RunStore, run_id: str, fmt: str) -> Path:
    """`<run folder>/exports/<format>`; InputError for a run store that is not a local folder."""
    if "://" in store.out:
        raise InputError(f"the run store {store.out} is not a local folder: give --out DIR")
    return Path(store.run_dir(run_id)) / "exports" / fmt


def export_run(
    store: RunStore, run_id: str, fmt: ExportFormat, folder: Path, split: Split, settings: ExportSettings
) -> ExportSummary:
    """Write run `run_id` in format `fmt` to `folder` (replaced whole), split by `split` (`run_split`);
    the export's summary."""
    manifest = store.read_manifest(run_id)
    source = ExportSource(store, run_id, split)
    building = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex}")
    try:
        files = EXPORTERS[fmt].write(source, building)
        summary = ExportSummary(
            run_id=run_id,
            format=fmt,
            created_at=datetime.now(UTC),
            split=split,
            dialogs={name: source.counts.get(name, 0) for name in ("train", "eval")},
            straddling=source.counts.get("straddling", 0),
            not_in_format=source.counts.get("not_in_format", 0),
            files=files,
            notes=list(EXPORTERS[fmt].NOTES),
        )
        if summary.straddling and split.unit == "tool":
            summary.notes.append(
                f"{summary.straddling} dialogues offered tools of both splits and are left out: the tools "
                "a dialogue offers share its category, so --split-by category keeps them."
            )
        statistics = manifest.statistics or corpus_statistics(store, run_id)
        card = dataset_card(
            summary,
            manifest,
            statistics,
            str(folder),
            configs=card_configs(fmt, files),
            features=hf.hf_features() if fmt == "hf" else None,
            license_id=settings.license,
        )
        write_json(building, SPLIT_FILE, split.model_dump(mode="json"), rows=0)
        write_text(building, CARD_FILE, card)
        summary.files += [file_info(building, building / name, 0, None) for name in (SPLIT_FILE, CARD_FILE)]
        write_json(building, SUMMARY_FILE, summary.model_dump(mode="json"), rows=0)
        replace_folder(building, folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return summary


def card_configs(fmt: ExportFormat, files: list[ExportFile]) -> list[dict[str, Any]] | None:
    """The card's `configs` (what `datasets.load_dataset(folder)` reads): the hf shards, or the files
    of a format with a row per dialogue; None for ToolAlpaca's and BFCL's own layouts."""
    if fmt == "hf":
        return hf.hf_configs(files)
    if fmt not in ("openai", "sharegpt", "react"):
        return None
    data = [{"split": f.split, "path": f.path} for f in files if f.split is not None and f.rows]
    return [{"config_name": "default", "data_files": data}] if data else None


def replace_folder(new: Path, folder: Path) -> None:
    """Move `new` onto `folder`, the old folder (if any) moved aside first, then removed: readers see
    the old folder or the new one, never a mix."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex}")
    if folder.exists():
        os.replace(folder, old)
    os.replace(new, folder)
    shutil.rmtree(old, ignore_errors=True)


def summary_markdown(summary: ExportSummary, folder: Path) -> str:
    lines = [
        f"## Export `{summary.format}` of run `{summary.run_id}`",
        "",
        f"- folder: `{folder}`",
        *(f"- {name}: {n} dialogues" for name, n in summary.dialogs.items()),
        f"- left out, offered tools of both splits: {summary.straddling}",
        f"- left out by the format (no shape for them, or a split it does not hold): {summary.not_in_format}",
        f"- eval tools: {len(summary.split.eval_tools)} of "
        f"{len(summary.split.eval_tools) + len(summary.split.train_tools)} ({summary.split.unit} split, "
        f"seed {summary.split.seed})",
        *(f"- {note}" for note in summary.notes),
    ]
    return "\n".join(lines) + "\n"


@task(name="export-format", persist_result=False)
def export_task(
    store_out: str, run_id: str, fmt: ExportFormat, folder: str, split: Split, settings: ExportSettings
) -> str:
    summary = export_run(RunStore(store_out), run_id, fmt, Path(folder), split, settings)
    if FlowRunContext.get() is not None:
        key = f"export-{fmt}"
        create_markdown_artifact(summary_markdown(summary, Path(folder)), key=key, description=key)
    return folder


def folders(store: RunStore, run_id: str, formats: list[ExportFormat], out: str | None) -> dict[str, Path]:
    """Where each format goes: `--out` itself for one format, `--out/<format>` for several."""
    if out is None:
        return {fmt: default_folder(store, run_id, fmt) for fmt in formats}
    base = Path(out).expanduser().resolve()
    return {fmt: base if len(formats) == 1 else base / fmt for fmt in formats}


@flow(name="toolforge-export", log_prints=False, persist_result=False)
def export_flow(
    run: str = "latest",
    formats: list[ExportFormat] = ["hf"],  # noqa: B006 (Prefect reads the default for the UI's form)
    out_dir: str = "out",
    out: str | None = None,
    settings: ExportSettings | None = None,
) -> list[str]:
    """Export run RUN of the store `out_dir` in each of `formats`; the folders written."""
    store, run_id = resolve_run(run, out_dir)
    targets = folders(store, run_id, formats, out)
    settings = settings or ExportSettings()
    split = run_split(store, run_id, settings)
    futures = [export_task.submit(store.out, run_id, f, str(targets[f]), split, settings) for f in formats]
    return [future.result() for future in futures]


class ExportCommand(RunCommand):
    """`python -m flows.export`'s arguments."""

    formats: Annotated[list[ExportFormat | Literal["all"]], Option(flag="format", repeat=True)] = Field(
        min_length=1, description="The formats to write: openai, hf, sharegpt, react, toolalpaca, bfcl, or "
        "all (repeat for several)."
    )  # fmt: skip
    out: Annotated[str | None, Option(metavar="DIR")] = Field(
        default=None,
        description="The export folder (default <run folder>/exports/<format>; for several formats, a "
        "folder per format under it).",
    )
    settings: ExportSettings = Field(default_factory=ExportSettings)

    @field_validator("formats")
    @classmethod
    def _all_once(cls, formats: list[str]) -> list[str]:
        return list(EXPORT_FORMATS) if "all" in formats else list(dict.fromkeys(formats))


COMMAND = CommandLine(
    "python -m flows.export",
    "Export a run's accepted dialogues in a training or benchmark format, split into train "
    "and eval by whole tools, with a dataset card. Prints each export folder, the last line last.",
    (ModelOptions(ExportCommand),),
)


def main(argv: list[str] | None = None) -> int:
    """The command line: each export folder on stdout and exit status 0; else one `error:` line on
    stderr and 2. No Prefect server is needed: the exports run as plain functions."""
    try:
        (args,) = COMMAND.parse(argv)
    except BadOption as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    try:
        store, run_id = resolve_run(args.run, args.out_dir)
        split = run_split(store, run_id, args.settings)
        for fmt, folder in folders(store, run_id, args.formats, args.out).items():
            summary = export_run(store, run_id, fmt, folder, split, args.settings)
            counts = ", ".join(f"{name} {n}" for name, n in summary.dialogs.items())
            left_out = [(summary.straddling, "offered tools of both splits"),
                        (summary.not_in_format, f"not held by the {fmt} format")]  # fmt: skip
            counts += "".join(f"; left out: {n}, {why}" for n, why in left_out if n)
            print(f"{fmt}: dialogues {counts} -> {folder}", file=sys.stderr)
            print(folder, flush=True)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
