"""`--forecast` on a whole run: `python -m flows.corpus` against `bench.fake_llm_server` on loopback, in
child processes, its model priced with `--price`.

The forecast runs a sample of the seeds into `<out>/forecasts/` (not among the runs), prints its
table and the path of its `forecast.json`; the run made after it, with the same work, finds it, pays
nothing for the sample's answers (they come from the cache), and its calls and tokens fall within the
forecast's intervals (the fake is deterministic: the same figures every time), as its manifest says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import responders
from bench.fake_llm_server import FakeLLMServer
from tests.support.cli_runs import cli, command, seeds_file

pytestmark = pytest.mark.slow

MODEL = "hosted_vllm/fake-model"
PRICE = ["--price", f"{MODEL}=100/200"]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.05) as fake:
        yield fake


def test_a_forecast_holds_the_run_made_after_it_within_its_intervals(
    tmp_path: Path, prefect_home: Path, server: FakeLLMServer
):
    seeds = seeds_file(tmp_path, count=12)
    args = [*command(seeds, server, tmp_path / "out", tmp_path / "cache"), *PRICE, "--max-cost", "0.5"]
    done = cli([*args, "--forecast", "--forecast-tools", "4"], prefect_home)
    assert done.returncode == 0, done.stderr[-3000:]
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.name == "forecast.json" and path.parent.parent == tmp_path / "out" / "forecasts" / "runs"
    assert not (tmp_path / "out" / "runs").exists()  # the sample is not one of the store's runs
    forecast = json.loads(path.read_text())
    assert forecast["seeds"] == 12 and len(forecast["sample"]) == 4
    assert "| **all** |" in done.stderr and "dialogues accepted:" in done.stderr
    assert any(note.startswith("--max-cost 0.5 may stop the run") for note in forecast["notes"])
    paid = sum(row["calls"] for row in forecast["sample_usage"])
    assert paid > 0

    done = cli(args[:-2], prefect_home)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert "beside its forecast: " in done.stderr
    assert 'id="forecast"' in (run_dir / "report.html").read_text()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert (run_dir / "forecast.json").exists()
    assert manifest["llm"]["cache_hits"] >= paid  # the sample's answers, not paid for again
    check = {figure["name"]: figure for figure in manifest["forecast"]["figures"]}
    for name in ("model calls", "prompt tokens", "completion tokens", "USD", "dialogues accepted"):
        figure = check[name]
        assert figure["within"], figure
    work = [row for row in manifest["llm"]["by_stage_role"] if row["stage"] != "preflight"]
    assert check["model calls"]["actual"] == sum(row["calls"] for row in work)


def test_a_forecast_of_an_api_pool_or_of_a_run_to_resume_is_refused_before_anything_runs(
    tmp_path: Path, prefect_home: Path, server: FakeLLMServer
):
    seeds = seeds_file(tmp_path, count=3)
    args = command(seeds, server, tmp_path / "out", tmp_path / "cache")
    done = cli([*args, "--forecast", "--evolve", "4"], prefect_home)
    assert done.returncode == 2
    assert "--forecast samples the seed list; it does not forecast an API pool" in done.stderr
    done = cli([*args, "--forecast", "--resume", "latest"], prefect_home)
    assert done.returncode == 2 and "--forecast makes a forecast, not a run to resume" in done.stderr
    assert not (tmp_path / "out" / "runs").exists() and not (tmp_path / "out" / "forecasts").exists()
