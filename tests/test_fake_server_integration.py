"""The corpus flow over real HTTP: litellm's OpenAI client against `bench.fake_llm_server`, with faults.

The server answers with `bench.responders.toolforge`, which tells requests apart by the JSON-schema
name in `response_format` (the gateway sends one because an `api_base` is set).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openapi_spec_validator import validate

from agents.llm.config import LLMConfig
from bench import responders
from bench.fake_llm_server import FakeLLMServer
from flows import corpus
from flows.config import CorpusConfig, SeedSelection

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

APIS = [
    ("Animals", "Cat Facts", "Daily cat facts"),
    ("Animals", "Dog API", "Pictures of dogs by breed"),
    ("Weather", "Open Meteo", "Global weather forecasts"),
    ("Weather", "Tide Tables", "Tide predictions for harbours"),
    ("Books", "Open Library", "Books, authors and editions"),
    ("Books", "Poetry DB", "Poems by title and author"),
]
FAULT_KINDS = ("429", "500", "timeout", "malformed")
FAULT_RATE = 0.3
FAULT_SEED = 2


def seeds_markdown() -> str:
    parts: list[str] = []
    for category in dict.fromkeys(c for c, _, _ in APIS):
        parts.append(f"### {category}\n| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n")
        parts += [
            f"| [{name}](https://{name.lower().replace(' ', '')}.example.org) | {text} | No | Yes | Yes |\n"
            for c, name, text in APIS
            if c == category
        ]
        parts.append("\n")
    return "".join(parts)


@pytest.fixture
def seeds_file(tmp_path: Path) -> Path:
    path = tmp_path / "apis.md"
    path.write_text(seeds_markdown(), encoding="utf-8")
    return path


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    options = getattr(request, "param", {})
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.05, **options) as fake:
        yield fake


def corpus_config(server: FakeLLMServer, tmp_path: Path, seeds: Path, **llm: Any) -> CorpusConfig:
    settings: dict[str, Any] = {
        "model": "openai/fake-model",
        "api_base": server.base_url,
        "cache_dir": str(tmp_path / "cache"),
        "concurrency": 4,
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.2,
        "timeout_s": 60,  # a busy machine's slow answer is waited for, not counted as a failure
    }
    return CorpusConfig(
        seeds=SeedSelection(source=str(seeds)),
        llm=LLMConfig(**(settings | llm)),
        out=str(tmp_path / "out"),
    )


def reconcile(run_dir: Path) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """The manifest, tools and rejections of a completed run in which every seed is accounted for."""
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "completed"
    seeds, tools, rejected = (
        pd.read_parquet(run_dir / name) for name in ("seeds", "tools", "rejected_tools")
    )
    assert len(seeds) == len(APIS)
    assert len(seeds) == len(tools) + len(rejected)
    assert set(tools["tool_id"]) | set(rejected["tool_id"]) == set(seeds["seed_id"])
    (toolset,) = [s for s in manifest["stages"] if s["name"] == "toolset"]
    assert (toolset["inputs"], toolset["outputs"], toolset["rejected"]) == (
        len(seeds),
        len(tools),
        len(rejected),
    )
    for spec in tools["openapi"]:
        validate(json.loads(spec))
    return manifest, tools, rejected


def first_draws(count: int) -> list[str | None]:
    """The faults the server's seeded generator hands out first (whichever requests get them)."""
    rng = random.Random(FAULT_SEED)
    return [rng.choice(FAULT_KINDS) if rng.random() < FAULT_RATE else None for _ in range(count)]


def test_a_run_over_http_builds_every_tool(server: FakeLLMServer, seeds_file: Path, tmp_path: Path):
    run_dir = Path(corpus.run(corpus_config(server, tmp_path, seeds_file)))

    manifest, tools, rejected = reconcile(run_dir)
    assert len(tools) == len(APIS) and rejected.empty
    assert set(tools["model"]) == {"openai/fake-model"}
    # the default mix: accepted dialogues of all five types, none rejected
    dialogs = pd.read_parquet(run_dir / "dialogs")
    rejected_dialogs = pd.read_parquet(run_dir / "rejected_dialogs")
    assert rejected_dialogs.empty, rejected_dialogs[
        ["dialog_id", "rejection_rule", "rejection_reason"]
    ].to_dict("records")
    assert dialogs["dialog_type"].value_counts().to_dict() == {
        "single": 3 * len(APIS),
        "parallel": 2 * len(APIS),
        "dependent": 2 * len(APIS),
        "multi_turn": 2 * len(APIS),
        "non_tool": len(APIS),
    }
    stats = server.stats()
    assert stats["rejected"] == 0 and sum(stats["faults"].values()) == 0
    assert manifest["llm"]["calls"] > 0
    assert manifest["llm"]["calls"] == stats["completions"]
    assert manifest["llm"]["errors"] == 0
    assert manifest["llm"]["prompt_tokens"] > 0 and manifest["llm"]["completion_tokens"] > 0
    assert manifest["config"]["llm"]["api_base"] == server.base_url


@pytest.mark.parametrize(
    "server",
    [{"fault_rate": FAULT_RATE, "fault_kinds": FAULT_KINDS, "timeout_s": 3, "seed": FAULT_SEED}],
    indirect=True,
)
def test_a_run_survives_an_unreliable_server(server: FakeLLMServer, seeds_file: Path, tmp_path: Path):
    # A run makes at least two requests per seed; with this seed, every kind of fault is among the
    # first draws, so each is injected whatever the order of the requests.
    early = first_draws(2 * len(APIS))
    assert set(FAULT_KINDS) <= set(early), early

    config = corpus_config(server, tmp_path, seeds_file, timeout_s=0.5, max_attempts=6)
    run_dir = Path(corpus.run(config))

    manifest, _tools, _rejected = reconcile(run_dir)
    faults = server.faults
    assert all(faults[kind] > 0 for kind in FAULT_KINDS), faults
    assert manifest["llm"]["errors"] > 0
    # each 429, 500 and timeout is one failed try seen by the gateway (no retries hidden below it)
    assert manifest["llm"]["errors"] == faults["429"] + faults["500"] + faults["timeout"]
    assert manifest["llm"]["calls"] <= server.completions


@pytest.mark.parametrize("server", [{"rpm": 12, "limit_window_s": 1.0}], indirect=True)
def test_a_run_against_a_rate_limited_server_accounts_for_every_item(
    server: FakeLLMServer, seeds_file: Path, tmp_path: Path
):
    # 12 requests a second (a short window stands for a minute): more than that are refused with 429
    # and a Retry-After; the run adapts its calls in flight and waits, and loses nothing.
    run_dir = Path(corpus.run(corpus_config(server, tmp_path, seeds_file, concurrency=8)))

    manifest, tools, rejected = reconcile(run_dir)
    assert len(tools) == len(APIS) and rejected.empty
    dialogs = pd.read_parquet(run_dir / "dialogs")
    assert pd.read_parquet(run_dir / "rejected_dialogs").empty
    assert len(dialogs) == 10 * len(APIS)  # as many as the unlimited run above makes
    assert server.limited > 0
    assert manifest["llm"]["calls"] == server.completions
    assert manifest["concurrency"], "the server refused calls, yet no limit changed"
    assert all(change["limit"] < 8 for change in manifest["concurrency"][:1])
