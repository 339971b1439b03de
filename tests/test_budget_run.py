"""`--max-cost` on a whole run: `python -m flows.corpus` against `bench.fake_llm_server` on loopback,
in child processes, its model priced with `--price`.

A run given a fraction of what the whole run costs stops at its budget (exit status 4, one
`stopped:` line, manifest status `stopped` with the reason and the spend, not `latest`); resumed with
a higher budget it completes to the same records as a run without a budget. A model without a price
and a `--max-cost` is refused before the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import responders
from bench.fake_llm_server import FakeLLMServer
from tests.support.cli_runs import cli, command, records, run_to_end, seeds_file

pytestmark = pytest.mark.slow

MODEL = "hosted_vllm/fake-model"
PRICE = ["--price", f"{MODEL}=100/200"]  # dollars per million tokens: a run costs a few cents


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.05) as fake:
        yield fake


def manifest_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def test_a_run_stops_at_its_budget_and_resumed_with_more_completes_to_the_unbudgeted_corpus(
    tmp_path: Path, prefect_home: Path, server: FakeLLMServer
):
    seeds = seeds_file(tmp_path, count=6)
    whole = run_to_end(
        [*command(seeds, server, tmp_path / "whole", tmp_path / "cache-whole"), *PRICE], prefect_home
    )
    spent = manifest_of(whole)["llm"]["cost_usd"]
    assert spent > 0

    args = [*command(seeds, server, tmp_path / "out", tmp_path / "cache"), *PRICE]
    stopped = cli([*args, "--max-cost", f"{spent * 0.4:.6f}"], prefect_home)
    assert stopped.returncode == 4, stopped.stderr[-3000:]
    (line,) = [line for line in stopped.stderr.splitlines() if line.startswith("stopped:")]
    (run_dir,) = (tmp_path / "out" / "runs").iterdir()
    assert "the budget is reached: --max-cost" in line and f"--resume {run_dir.name}" in line
    manifest = manifest_of(run_dir)
    budget = manifest["budget"]
    assert manifest["status"] == "stopped" and budget["stopped"] and budget["max_cost_usd"] > 0
    assert 0 < budget["spent_usd"] < spent and budget["spent_usd"] == manifest["llm"]["cost_usd"]
    assert any(note.startswith("stopped: the budget is reached") for note in manifest["notes"])
    assert sum(stage["unfinished"] for stage in manifest["stages"]) > 0
    assert not (tmp_path / "out" / "latest").exists()

    resumed = run_to_end([*args, "--max-cost", f"{spent * 10:.6f}", "--resume", run_dir.name], prefect_home)
    assert resumed == run_dir
    manifest = manifest_of(resumed)
    assert manifest["status"] == "completed" and manifest["budget"]["stopped"] is None
    assert records(resumed) == records(whole)
    per_accepted = manifest["per_accepted"]
    assert per_accepted["dialogs"] == len(records(resumed)["dialogs"]) > 0
    assert per_accepted["overall"]["cost_usd"] == pytest.approx(
        manifest["llm"]["cost_usd"] / per_accepted["dialogs"]
    )


def test_max_cost_on_a_model_without_a_price_is_refused_before_the_run(
    tmp_path: Path, prefect_home: Path, server: FakeLLMServer
):
    seeds = seeds_file(tmp_path, count=2)
    done = cli(
        [*command(seeds, server, tmp_path / "out", tmp_path / "cache"), "--max-cost", "1"], prefect_home
    )
    assert done.returncode == 2
    assert f"error: --max-cost: litellm has no price for {MODEL}" in done.stderr
    assert f"--price {MODEL}=IN/OUT" in done.stderr
    assert not (tmp_path / "out" / "runs").exists()
