"""The corpus flow run in this process on the scripted model: a seed list written for the test, the
run's configuration, and what the run left (its manifest and tables)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from agents.llm.config import LLMConfig
from flows import corpus
from flows.config import CorpusConfig, SeedSelection

HEADER = "| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n"
SEEDS_MD = (
    "# Public APIs\n\n"
    "### Animals\n"
    + HEADER
    + "| [Cat Facts](https://catfact.example.org) | Daily cat facts | No | Yes | No |\n"
    "| [Dog API](https://dog.example.org) | Pictures of dogs by breed | No | Yes | Yes |\n"
    "\n### Weather\n"
    + HEADER
    + "| [Open Meteo](https://meteo.example.org) | Global weather forecasts | No | Yes | Yes |\n"
    "| [Tide Tables](https://tides.example.org) | Tide predictions | `apiKey` | Yes | Unknown |\n"
)


def write_seeds(tmp_path: Path, text: str = SEEDS_MD, name: str = "apis.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def corpus_config(llm: LLMConfig, tmp_path: Path, seeds: Path, **llm_changes: Any) -> CorpusConfig:
    return CorpusConfig(
        seeds=SeedSelection(source=str(seeds)),
        llm=LLMConfig.model_validate(llm.model_dump() | llm_changes),
        out=str(tmp_path / "out"),
    )


def run_corpus(config: CorpusConfig) -> Path:
    return Path(corpus.run(config))


def manifest_of(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))


def table(run_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(run_dir / name)
