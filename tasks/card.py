"""The dataset card of an export (`README.md` in the export folder): Hugging Face's front matter
(configs, splits, features, license, size category, task tags) and a body that says what made the
data: the seed source, the models per role, the prompts' versions, the counts, the rejections by
rule, the verification pass rates, the split, and how to load it."""

from __future__ import annotations

from typing import Any

import yaml

from agents.assistant.agent import ROLE as ASSISTANT
from agents.executor.agent import ROLE as EXECUTOR
from agents.judge.agent import ROLE as JUDGE
from agents.toolsmith.agent import ROLE as TOOLSMITH
from agents.user.agent import ROLE as USER
from schemas.export import ExportSummary
from schemas.manifest import Manifest
from schemas.statistics import CorpusStatistics
from tasks.exports import bfcl
from tasks.statistics import TABLE_1, figure, per_accepted_markdown

ROLES = (TOOLSMITH, USER, ASSISTANT, EXECUTOR, JUDGE)
SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
TAGS = ["tool-use", "function-calling", "synthetic", "toolalpaca", "toolace"]
SHOWN_TOOLS = 50
"""Eval tools named in the card, at most (the full list is in `split.json`)."""
LOADING = {
    "hf": 'from datasets import load_dataset\n\ncorpus = load_dataset("{folder}")  # splits train, eval',
    "openai": 'from datasets import load_dataset\n\ncorpus = load_dataset("json", data_files={{"train": '
    '"{folder}/train.jsonl", "eval": "{folder}/eval.jsonl"}})\n# or upload train.jsonl to OpenAI fine-tuning',
    "sharegpt": "# LLaMA-Factory: copy the entries of dataset_info.json into its data/dataset_info.json"
    "\n# (file_name relative to its dataset_dir), then: dataset: toolforge_train",
    "react": 'from datasets import load_dataset\n\ncorpus = load_dataset("json", data_files={{"train": '
    '"{folder}/train.jsonl", "eval": "{folder}/eval.jsonl"}})  # prompt / completion',
    "toolalpaca": 'import json\n\ntools = json.load(open("{folder}/train.json"))  # ToolAlpaca\'s own format',
    "bfcl": "# BFCL: the eval split, one question file per category and possible_answer/ beside it",
}
BFCL_SCORING = """## How to score it with BFCL

These files have the official test set's names (`{questions}`, `{answers}`, ...). BFCL's runner reads
its test set from the `data/` folder inside its installed package (`bfcl_eval/data/`), with no
option to read another: copying these files there **replaces BFCL's official test set** in that
installation. Score them one of two ways instead:

- with ToolForge, nothing copied: `python -m flows.evaluate --model MODEL --eval {folder}` asks a
  model and scores its calls per category with BFCL's AST check; `python -m flows.evaluate --eval
  {folder} --answers RESULT.json` scores a BFCL result file;
- with BFCL's own runner, in an installation of its own (never the one you score the official set
  with): the other categories keep their official files there, which BFCL's score step looks for.

```bash
python -m venv bfcl-toolforge && bfcl-toolforge/bin/pip install bfcl-eval
PACKAGE=$(bfcl-toolforge/bin/python -c "import importlib.util as u; print(u.find_spec('bfcl_eval').origin)")
DATA=$(dirname "$PACKAGE")/data
cp {folder}/BFCL_v4_*.json "$DATA/" && cp {folder}/{answers_dir}/BFCL_v4_*.json "$DATA/{answers_dir}/"
export BFCL_PROJECT_ROOT=bfcl-toolforge-results  # its results and scores, apart from the official run's
bfcl-toolforge/bin/bfcl generate --model MODEL --test-category simple_python,multiple,irrelevance
bfcl-toolforge/bin/bfcl evaluate --model MODEL --test-category simple_python,multiple,irrelevance
```
"""
"""The BFCL export's card section: where its files go (see `tasks/exports/bfcl.py`)."""


def size_category(rows: int) -> str:
    return next((name for bound, name in SIZES if rows < bound), "1M<n<10M")


def models_by_role(manifest: Manifest) -> dict[str, str]:
    """The model each role used (the run's model unless `--role-model` named another)."""
    llm = manifest.config.get("llm", {})
    overrides = llm.get("role_models") or {}
    return {role: str(overrides.get(role, llm.get("model", "unknown"))) for role in ROLES}


def front_matter(
    summary: ExportSummary,
    configs: list[dict[str, Any]] | None,
    features: Any | None,
    license_id: str,
) -> dict[str, Any]:
    """The card's YAML front matter, as a mapping."""
    total = sum(summary.dialogs.values())
    front: dict[str, Any] = {
        "license": license_id,
        "language": ["en"],
        "pretty_name": f"ToolForge corpus {summary.run_id}",
        "size_categories": [size_category(total)],
        "task_categories": ["text-generation"],
        "tags": TAGS,
    }
    if not configs:
        return front  # not a layout `datasets` reads (ToolAlpaca's, BFCL's): no configs, no splits
    front["configs"] = configs
    info: dict[str, Any] = {"splits": card_splits(summary)}
    front["dataset_info"] = {"features": features, **info} if features is not None else info
    return front


def card_splits(summary: ExportSummary) -> list[dict[str, Any]]:
    """`dataset_info.splits` as `datasets` validates it: `name`, `num_bytes` and `num_examples` for each
    split with rows (`num_bytes`: the bytes of the split's files as written; `datasets` measures its
    own Arrow size once it has built the split, and checks `num_examples` against the rows it read)."""
    splits = []
    for name in summary.dialogs:
        files = [f for f in summary.files if f.split == name and f.rows]
        if files:
            splits.append(
                {
                    "name": name,
                    "num_bytes": sum(f.bytes for f in files),
                    "num_examples": sum(f.rows for f in files),
                }
            )
    return splits


def dataset_card(
    summary: ExportSummary,
    manifest: Manifest,
    statistics: CorpusStatistics,
    folder: str,
    *,
    configs: list[dict[str, Any]] | None = None,
    features: Any | None = None,
    license_id: str = "mit",
) -> str:
    """The card's text: front matter, then the body."""
    front = yaml.safe_dump(front_matter(summary, configs, features, license_id), sort_keys=False)
    split = summary.split
    seeds = manifest.config.get("seeds", {}).get("source") or "the seed list built into ToolForge"
    lines = [
        "---",
        front.rstrip(),
        "---",
        "",
        f"# ToolForge corpus `{summary.run_id}` ({summary.format})",
        "",
        "Tool-use dialogues made by ToolForge from a list of real-world APIs: an LLM "
        "wrote each API's documentation and OpenAPI spec, then simulated users, assistants and tool "
        "executors wrote dialogues (ToolAlpaca's method, with ToolACE's dialogue types), which rule and "
        "model checks verified.",
        "",
        "## How it was made",
        "",
        f"- run: `{manifest.run_id}`, {manifest.status}, started {manifest.started_at:%Y-%m-%d %H:%M} UTC, "
        f"code version `{manifest.code_version}`",
        f"- seed source: `{seeds}` (sha256 `{manifest.inputs.get('seed_source', 'not recorded')}`)",
        "- models per role: "
        + ", ".join(f"{role} `{model}`" for role, model in models_by_role(manifest).items()),
        "- prompts' versions: "
        + (", ".join(f"`{name}@{v}`" for name, v in manifest.prompts.items()) or "not recorded by this run"),
        test_sets_checked(manifest, statistics),
        "",
        "## Counts",
        "",
        "| statistic | value |",
        "|---|---|",
        *(f"| {label} | {figure(name, getattr(statistics, name))} |" for name, label in TABLE_1),
        "",
        "| split | dialogues |",
        "|---|---|",
        *(f"| {name} | {n} |" for name, n in summary.dialogs.items()),
        f"| left out: offered tools of both splits | {summary.straddling} |",
        f"| left out by the {summary.format} format (no shape for them, or a split it does not hold) "
        f"| {summary.not_in_format} |",
        "",
        "Dialogue types (accepted): "
        + (", ".join(f"{kind} {n}" for kind, n in statistics.dialog_types.items()) or "none"),
        "",
        "## Cost per accepted dialogue",
        "",
        "Model calls, tokens and dollars of the whole run (rejected items and every stage included) "
        "divided by its accepted dialogues:",
        "",
        *per_accepted_markdown(manifest.per_accepted),
        "",
        "## Rejections by rule",
        "",
        "| step | rule | count |",
        "|---|---|---|",
        *([f"| {r.step} | {r.rule} | {r.count} |" for r in statistics.rejections] or ["| none | | 0 |"]),
        "",
        "## Verification pass rates",
        "",
        *(
            ["| layer | check | dialogues | passed | rate |", "|---|---|---|---|---|"]
            + [
                f"| {c.layer} | {c.check} | {c.dialogs} | {c.passed} | {c.pass_rate:.3f} |"
                for c in sorted(manifest.checks, key=lambda c: (c.layer, c.check))
            ]
            if manifest.checks
            else ["Not recorded by this run."]
        ),
        "",
        "## Split",
        "",
        f"Whole {split.unit}s are held out for evaluation: {len(split.eval_tools)} of "
        f"{len(split.eval_tools) + len(split.train_tools)} tools (eval fraction {split.eval_fraction}, "
        f"seed {split.seed}); no eval tool occurs in the train split. The full split is in `split.json`.",
        "",
        "Eval tools: " + _names(split.eval_tools),
        *(["", "Eval categories: " + _names(split.eval_categories)] if split.eval_categories else []),
        "",
        *(["## Notes", "", *(f"- {note}" for note in summary.notes), ""] if summary.notes else []),
        "## How to load it",
        "",
        "```python",
        LOADING[summary.format].format(folder=folder),
        "```",
        "",
        *([bfcl_scoring(folder)] if summary.format == "bfcl" else []),
    ]
    return "\n".join(lines)


def bfcl_scoring(folder: str) -> str:
    """The BFCL export's section on scoring it without replacing BFCL's official test set."""
    return BFCL_SCORING.format(
        folder=folder,
        questions=bfcl.file_name("simple_python"),
        answers=f"{bfcl.ANSWERS}/{bfcl.file_name('simple_python')}",
        answers_dir=bfcl.ANSWERS,
    )


def test_sets_checked(manifest: Manifest, statistics: CorpusStatistics) -> str:
    """The card's line on the test sets the run's instructions were checked against (`--decontaminate`,
    `flows.decontamination`) and how many it dropped."""
    verification = manifest.config.get("verification", {})
    sources = verification.get("decontaminate") or []
    if not sources:
        return "- checked against test sets: none (the run did not use `--decontaminate`)"
    dropped = sum(r.count for r in statistics.rejections if r.rule == "test_set_overlap")
    read = manifest.inputs.get("test_sets") or ", ".join(f"`{s}`" for s in sources)
    return (
        f"- checked against test sets: {read}; {dropped} instructions (each dialogue's first request; "
        "multi-turn follow-ups are not compared) dropped as near-duplicates of a test question (word "
        f"Jaccard >= {verification.get('decontaminate_threshold')}, rule `test_set_overlap`)"
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:SHOWN_TOOLS])
    more = f" and {len(names) - SHOWN_TOOLS} more" if len(names) > SHOWN_TOOLS else ""
    return (shown + more) or "none"
