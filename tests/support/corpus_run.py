"""A corpus run over real HTTP against the fake LLM server, made once per test session and shared by
the tests of what a run leaves behind (exports, split, statistics, the HTML report).

24 APIs in 6 categories; the server varies the assistant's moves and the judge's verdicts
(`bench.responders.varied`), so the run has accepted dialogues of every type and rejected ones; two
tools are offered per dialogue, so some dialogues offer tools of both sides of a split.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from agents.llm.config import LLMConfig
from bench import responders
from bench.fake_llm_server import FakeLLMServer
from flows import corpus
from flows.config import CorpusConfig, SeedSelection
from tasks.simulation import SimulationSettings

CATEGORIES = {
    "Animals": ["Cat Facts", "Dog Breeds", "Bird Calls", "Fish Watch"],
    "Weather": ["Open Meteo", "Tide Tables", "Storm Glass", "Air Quality"],
    "Books": ["Open Library", "Poetry DB", "Gutendex", "Quotes Garden"],
    "Games": ["Chess Stats", "Board Finder", "Dice Roller", "Trivia Night"],
    "Music": ["Lyrics Box", "Chord Charts", "Radio Browser", "Setlist Finder"],
    "Travel": ["Airport Info", "Rail Times", "City Bikes", "Hostel Finder"],
}


class FakeRun(NamedTuple):
    out: Path
    run_id: str
    run_dir: Path


def seeds_markdown() -> str:
    parts = []
    for category, names in CATEGORIES.items():
        parts.append(f"### {category}\n| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n")
        for name in names:
            link = f"https://{name.lower().replace(' ', '')}.example.org"
            parts.append(f"| [{name}]({link}) | {name} for {category.lower()} fans | No | Yes | Yes |\n")
        parts.append("\n")
    return "".join(parts)


def make_fake_run(folder: Path) -> FakeRun:
    """Run the corpus flow against a fresh fake server; the published run."""
    seeds = folder / "apis.md"
    seeds.write_text(seeds_markdown(), encoding="utf-8")
    with FakeLLMServer(responder=responders.varied, latency_s=0.0) as server:
        config = CorpusConfig(
            seeds=SeedSelection(source=str(seeds)),
            llm=LLMConfig(
                model="openai/fake-model",
                api_base=server.base_url,
                cache_dir=str(folder / "cache"),
                concurrency=8,
                backoff_base_s=0.05,
                backoff_max_s=0.2,
                timeout_s=60,  # a busy machine's slow answer is waited for, not retried
            ),
            simulation=SimulationSettings(tools_per_dialog=2),
            out=str(folder / "out"),
        )
        run_dir = Path(corpus.run(config))
    return FakeRun(folder / "out", run_dir.name, run_dir)
