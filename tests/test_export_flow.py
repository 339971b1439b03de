"""What a run leaves behind for its users: the split of its tools, its statistics, and the exports
that `python -m flows.export` writes (every format, with its split, summary and dataset card)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import datasets
import pandas as pd
import pytest
import yaml

from flows import export
from schemas.errors import InputError
from schemas.export import EXPORT_FORMATS, Split
from schemas.manifest import Manifest
from storage import RunStore
from tasks.exports.source import ExportSource
from tasks.split import split_tools
from tasks.statistics import corpus_statistics
from tests.support.corpus_run import CATEGORIES

TOOLS = [(f"tool-{i}", f"category-{i % 5}") for i in range(40)]


def test_the_split_is_reproducible_and_holds_out_whole_tools():
    split = split_tools(TOOLS, 0.1, seed=7)
    assert split == split_tools(list(reversed(TOOLS)), 0.1, seed=7)  # the order of the tools is no matter
    assert len(split.eval_tools) == 4 and len(split.train_tools) == 36
    assert not set(split.eval_tools) & set(split.train_tools)
    assert split_tools(TOOLS, 0.1, seed=8).eval_tools != split.eval_tools
    assert split.side(["tool-1"]) in {"train", "eval"}
    assert split.side([split.eval_tools[0], split.train_tools[0]]) is None  # both sides: neither
    assert split.side(["no-such-tool"]) is None


def test_a_category_split_holds_out_whole_categories():
    split = split_tools(TOOLS, 0.3, seed=1, unit="category")
    held = {category for tool, category in TOOLS if tool in split.eval_tools}
    assert held == set(split.eval_categories) and len(held) in {1, 2}
    assert all(category not in held for tool, category in TOOLS if tool in split.train_tools)


@pytest.mark.parametrize(
    ("tools", "fraction", "held_out"),
    [(TOOLS, 0.0, 0), (TOOLS, 1.0, 40), (TOOLS[:1], 0.5, 0), (TOOLS[:2], 0.01, 1)],
)
def test_the_split_at_its_edges(tools, fraction, held_out):
    assert len(split_tools(tools, fraction, seed=0).eval_tools) == held_out


def test_a_fraction_out_of_range_is_refused():
    with pytest.raises(InputError, match="between 0 and 1"):
        split_tools(TOOLS, 1.5, seed=0)


def test_the_statistics_are_the_counts_of_the_run(fake_run):
    store = RunStore(str(fake_run.out))
    manifest = store.read_manifest(fake_run.run_id)
    stats = manifest.statistics
    assert stats is not None and stats == corpus_statistics(store, fake_run.run_id)
    dialogs = pd.read_parquet(fake_run.run_dir / "dialogs")
    tools = pd.read_parquet(fake_run.run_dir / "tools")
    assert (stats.tools, stats.categories, stats.instances) == (len(tools), len(CATEGORIES), len(dialogs))
    assert stats.single_call == (dialogs["calls"] == 1).sum()
    assert stats.multiple_calls == (dialogs["calls"] > 1).sum()
    assert stats.single_call + stats.multiple_calls + stats.no_call == stats.instances
    assert stats.dialog_types == dialogs["dialog_type"].value_counts().sort_index().to_dict()
    words = dialogs["instruction"].str.split().str.len()
    assert stats.avg_request_words == round(words.mean(), 2)
    assert sum(stats.request_words.counts) == sum(stats.steps.counts) == stats.instances
    assert stats.rejected_instances == len(pd.read_parquet(fake_run.run_dir / "rejected_dialogs"))
    assert sum(r.count for r in stats.rejections) == len(pd.read_parquet(fake_run.run_dir / "rejections"))
    assert stats.llm_calls == manifest.llm.calls
    assert "judge/judge" in manifest.prompts and "user/instructions" in manifest.prompts
    assert (fake_run.run_dir / "report.html").is_file()


@pytest.fixture(scope="module")
def exports(fake_run, tmp_path_factory) -> Path:
    """Every format of the fake run, exported by the command line into one folder."""
    out = tmp_path_factory.mktemp("exports")
    code = export.main(
        [fake_run.run_id, "--format", "all", "--out", str(out), "--out-dir", str(fake_run.out),
         "--eval-fraction", "0.25", "--split-seed", "3"]
    )  # fmt: skip
    assert code == 0
    return out


def summary(folder: Path) -> dict:
    return json.loads((folder / "export.json").read_text(encoding="utf-8"))


def test_every_format_has_its_split_summary_and_card(exports, fake_run):
    accepted = len(pd.read_parquet(fake_run.run_dir / "dialogs"))
    manifest = RunStore(str(fake_run.out)).read_manifest(fake_run.run_id)
    splits = set()
    for fmt in EXPORT_FORMATS:
        folder = exports / fmt
        written = summary(folder)
        split = Split.model_validate_json((folder / "split.json").read_text(encoding="utf-8"))
        splits.add(split.model_dump_json())
        assert split.eval_fraction == 0.25 and split.seed == 3
        exported = sum(written["dialogs"].values()) + written["straddling"] + written["not_in_format"]
        assert exported == accepted, fmt
        for file in written["files"]:
            assert (folder / file["path"]).is_file(), file
        card = (folder / "README.md").read_text(encoding="utf-8")
        front = yaml.safe_load(card.split("---\n")[1])
        assert front["license"] == "mit" and "function-calling" in front["tags"]
        assert front["size_categories"] == ["n<1K"]
        for heading in (
            "## How it was made",
            "## Counts",
            "## Cost per accepted dialogue",
            "## Rejections by rule",
            "## Split",
            "## How to load",
        ):
            assert heading in card, (fmt, heading)
        assert "judge `openai/fake-model`" in card and "user/instructions@" in card
        calls_per_accepted = manifest.llm.calls / accepted
        assert f"| all | {calls_per_accepted:,.2f} |" in card, fmt
        assert not [p for p in folder.rglob(".*tmp-*")]  # no temporary file left
    assert len(splits) == 1  # one split, whatever the format
    assert summary(exports / "bfcl")["dialogs"]["train"] == 0  # BFCL is for evaluation only


class Warnings(logging.Handler):
    """The warnings `datasets` logs (its logger does not propagate to pytest's caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("fmt", ["hf", "openai", "sharegpt", "react"])
def test_datasets_loads_an_export_folder_by_its_card_without_a_warning(exports, fmt, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    logger, caught = logging.getLogger("datasets"), Warnings()
    logger.addHandler(caught)
    try:
        loaded = datasets.load_dataset(str(exports / fmt), cache_dir=str(tmp_path / "cache"))
    finally:
        logger.removeHandler(caught)
    files = [f for f in summary(exports / fmt)["files"] if f["split"] and f["rows"]]
    rows = {f["split"]: f["rows"] for f in files}
    assert {name: len(split) for name, split in loaded.items()} == rows
    assert caught.messages == []  # no card warning (`splits` malformed) nor any other
    front = yaml.safe_load((exports / fmt / "README.md").read_text(encoding="utf-8").split("---\n")[1])
    assert front["dataset_info"]["splits"] == [
        {"name": f["split"], "num_bytes": f["bytes"], "num_examples": f["rows"]} for f in files
    ]


def test_the_bfcl_card_says_how_to_score_it_without_replacing_the_official_set(exports):
    folder = exports / "bfcl"
    card = (folder / "README.md").read_text(encoding="utf-8")
    section = card.split("## How to score it with BFCL", 1)[1]
    assert "replaces BFCL's official test set" in section
    assert f"python -m flows.evaluate --model MODEL --eval {folder}" in section
    written = [f["path"] for f in summary(folder)["files"] if f["split"] == "eval"]
    assert "BFCL_v4_simple_python.json" in section and any(p.startswith("BFCL_v4_") for p in written)
    assert f"cp {folder}/BFCL_v4_*.json" in section and "BFCL_PROJECT_ROOT=" in section
    assert "How to score it" not in (exports / "hf" / "README.md").read_text(encoding="utf-8")


def test_no_eval_tool_occurs_in_the_train_split(exports, fake_run):
    store = RunStore(str(fake_run.out))
    split = Split.model_validate_json((exports / "hf" / "split.json").read_text(encoding="utf-8"))
    assert len(split.train_tools) + len(split.eval_tools) >= 20 and split.eval_tools
    source = ExportSource(store, fake_run.run_id, split)
    train = list(source.dialogs("train"))
    held_out = list(source.dialogs("eval"))
    assert train and held_out and source.counts["straddling"] > 0  # two tools per dialogue: some straddle
    assert not {t for d in train for t in d.tool_ids} & set(split.eval_tools)
    assert not {t for d in held_out for t in d.tool_ids} & set(split.train_tools)
    names = {s: {tool["Name"] for tool in json.loads((exports / "toolalpaca" / f"{s}.json").read_text())}
             for s in ("train", "eval")}  # fmt: skip
    assert names["train"] and names["eval"] and not names["train"] & names["eval"]


def test_an_export_again_replaces_the_folder_whole(exports, fake_run, tmp_path):
    folder = tmp_path / "openai"
    args = [fake_run.run_id, "--format", "openai", "--out", str(folder), "--out-dir", str(fake_run.out)]
    assert export.main(args) == 0
    (folder / "stale.jsonl").write_text("{}\n")
    assert export.main([*args, "--eval-fraction", "0.5"]) == 0
    assert not (folder / "stale.jsonl").exists()
    assert summary(folder)["split"]["eval_fraction"] == 0.5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_default_folder_is_in_the_run(fake_run, capsys):
    assert export.main(["latest", "--format", "react", "--out-dir", str(fake_run.out)]) == 0
    folder = Path(capsys.readouterr().out.splitlines()[-1])
    assert folder == fake_run.run_dir / "exports" / "react" and (folder / "train.jsonl").is_file()


def test_bad_input_is_one_error_line(fake_run, tmp_path, capsys):
    assert export.main(["no-such-run", "--format", "hf", "--out-dir", str(fake_run.out)]) == 2
    assert capsys.readouterr().err.startswith("error: no run 'no-such-run'")
    assert (
        export.main(["latest", "--format", "hf", "--eval-fraction", "2", "--out-dir", str(fake_run.out)]) == 2
    )
    assert capsys.readouterr().err.startswith("error: --eval-fraction:")
    store = RunStore(str(tmp_path / "out"))
    writer = store.start_run("20260101T000000Z-bbbbbb")
    writer.write_manifest(Manifest(run_id=writer.run_id, started_at="2026-01-01T00:00:00Z", status="running",
                                   code_version="x"))  # fmt: skip
    assert export.main([writer.run_id, "--format", "hf", "--out-dir", str(store.out)]) == 2
    assert "is running, not completed" in capsys.readouterr().err
