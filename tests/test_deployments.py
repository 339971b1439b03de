"""The deployments on a real Prefect server, as the README's commands set them up.

A Prefect server on loopback (its own temporary home), a `process` work pool and a worker; the
deployments registered with `python -m deployments deploy`, their model the local fake LLM server,
their key in a Prefect Secret block. A corpus run triggered through the API completes, with its
artifacts (summary, report, stage progress) and its log in the API; the regeneration has its cron
schedule and the scheduler makes runs from it; run twice, with a seed added to its list between the
runs, the second run pays only for the new seed and reports it. The key is in no parameter,
artifact, log or file the runs wrote.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench import responders
from bench.fake_llm_server import FakeLLMServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
POOL = "toolforge-test"
KEY = "sk-deployment-Qm47ToolForgeKey"
SECRET_BLOCK = "toolforge-test-key"
CRON = "0 3 * * *"
SEED_ROW = "| [{name}](https://{slug}.example.org) | Records about {name} | No | Yes | Yes |"
BROKEN_ROW = "| Broken row without a link |"
HEADER = "### Things\n| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n"
API_DEADLINE_S = 300.0
"""How long one API call may go unanswered (timeouts, 503s) on a busy machine before a test fails."""


def seed_list(path: Path, names: list[str], broken: str = "") -> Path:
    rows = [SEED_ROW.format(name=name, slug=name.lower().replace(" ", "-")) for name in names]
    path.write_text(HEADER + "\n".join([*rows, *([broken] if broken else [])]) + "\n", encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrefectServer:
    """`prefect server start` on loopback, a work pool and a worker, all in `home`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "OPENAI"))}
        self.env = base | {"PREFECT_HOME": str(home), "PREFECT_API_URL": self.api_url}
        self.env |= {"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        self.env |= {"PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2"}
        self.processes: list[subprocess.Popen[str]] = []

    def start(self) -> None:
        server_env = {k: v for k, v in self.env.items() if k != "PREFECT_API_URL"}
        self.spawn(["server", "start", "--host", "127.0.0.1", "--port", str(self.port)], server_env, "server")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError(
                f"the Prefect server did not start: {(self.home / 'server.log').read_text()}"
            )
        self.prefect("work-pool", "create", POOL, "--type", "process")
        self.spawn(["worker", "start", "--pool", POOL, "--limit", "1"], self.env, "worker")

    def spawn(self, args: list[str], env: dict[str, str], name: str) -> None:
        log = (self.home / f"{name}.log").open("w")
        command = [sys.executable, "-m", "prefect", *args]
        self.processes.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log, text=True))

    def prefect(self, *args: str) -> str:
        """Prefect's own command line against this server; its tables as wide as they need."""
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            cwd=REPO,
            env=self.env | {"COLUMNS": "250"},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def python(self, *args: str) -> str:
        done = subprocess.run([sys.executable, *args], cwd=REPO, env=self.env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call. A busy machine's server may answer slowly, or ask for a retry (503: SQLite
        busy): the call is tried again until `API_DEADLINE_S` has passed, not failed on one timeout."""
        deadline = time.monotonic() + API_DEADLINE_S
        while True:
            try:
                response = httpx.request(method, f"{self.api_url}{path}", json=body, timeout=60)
                if response.status_code != 503:
                    break
                problem = "503 " + response.text[:200]
            except httpx.TransportError as exc:  # a timeout among them
                problem = repr(exc)
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path}: no answer within {API_DEADLINE_S:.0f} s ({problem})")
            time.sleep(1)
        response.raise_for_status()
        return response.json() if response.content else None

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.02) as server:
        yield server


@pytest.fixture(scope="module")
def prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    server = PrefectServer(tmp_path_factory.mktemp("prefect-server"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deployed(prefect: PrefectServer, fake: FakeLLMServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("deployed")
    corpus_seeds = seed_list(work / "corpus.md", ["Cat Facts", "Dog Photos"], broken=BROKEN_ROW)
    regeneration_seeds = seed_list(work / "nightly.md", ["Tide Tables", "Star Charts"])
    prefect.python(
        "-c", f"from prefect.blocks.system import Secret; Secret(value={KEY!r}).save({SECRET_BLOCK!r})"
    )
    ids = prefect.python(
        "-m", "deployments", "deploy", "--work-pool", POOL, "--cron", CRON,
        "--seeds", str(corpus_seeds), "--regeneration-seeds", str(regeneration_seeds),
        "--model", "hosted_vllm/fake-model", "--api-base", fake.base_url, "--secret-block", SECRET_BLOCK,
        "--out", str(work / "out"), "--cache-dir", str(work / "cache"),
        "--concurrency", "4", "--instructions-per-tool", "2",
        "--dialog-mix", "single=1,parallel=1",  # every tool the same two dialogues: the same calls each
    ).split()  # fmt: skip
    return {"ids": ids, "work": work, "regeneration_seeds": regeneration_seeds}


def run_deployment(
    prefect: PrefectServer, name: str, timeout_s: float = 600, flow: str = "toolforge-corpus"
) -> dict:
    """Trigger a run of deployment `name` of `flow` through the API and wait for it to end."""
    deployment = prefect.api("GET", f"/deployments/name/{flow}/{name}")
    once = {"idempotency_key": uuid.uuid4().hex}  # a call tried again makes no second run
    flow_run = prefect.api("POST", f"/deployments/{deployment['id']}/create_flow_run", once)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        flow_run = prefect.api("GET", f"/flow_runs/{flow_run['id']}")
        if flow_run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return flow_run
        time.sleep(1)
    raise AssertionError(
        f"the run of {name} did not end: {(prefect.home / 'worker.log').read_text()[-3000:]}"
    )


def artifacts(prefect: PrefectServer, flow_run_id: str) -> dict[str, dict]:
    found = prefect.api("POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}})
    return {artifact["key"]: artifact for artifact in found if artifact["key"]}


def logs(prefect: PrefectServer, flow_run_id: str) -> str:
    found = prefect.api(
        "POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200}
    )
    return "\n".join(entry["message"] for entry in found)


def run_folder(work: Path, flow_run_id: str) -> Path:
    for manifest in (work / "out" / "runs").glob("*/manifest.json"):
        if json.loads(manifest.read_text()).get("flow_run_id") == flow_run_id:
            return manifest.parent
    raise AssertionError(f"no run folder of flow run {flow_run_id}")


def manifest_dialogs(folder: Path) -> int:
    """The accepted dialogues of a run, by its manifest."""
    manifest = json.loads((folder / "manifest.json").read_text())
    return manifest["artifacts"]["dialogs"]["rows"] if "dialogs" in manifest["artifacts"] else 0


def test_a_deployment_run_completes_with_its_artifacts_and_log(prefect: PrefectServer, deployed: dict, fake):
    flow_run = run_deployment(prefect, "corpus")

    assert flow_run["state"]["type"] == "COMPLETED", (prefect.home / "worker.log").read_text()[-3000:]
    made = artifacts(prefect, flow_run["id"])
    assert {"corpus-summary", "corpus-report", "toolset-progress", "simulation-progress"} <= set(made)
    assert made["simulation-progress"]["data"] == 100
    assert "## Rejections by rule" in made["corpus-report"]["data"]
    assert "| **all** |" in made["corpus-report"]["data"]
    expected = [
        "toolset      2/2 tools · 2 ok",
        "simulation   4/4 dialogs",
        "(Broken row without a link): skipped",
    ]
    deadline, lines = time.monotonic() + 300, ""
    while not all(line in lines for line in expected) and time.monotonic() < deadline:
        lines = logs(prefect, flow_run["id"])  # the flow's process sends its last lines as it ends
        time.sleep(1)
    assert all(line in lines for line in expected), lines
    folder = run_folder(deployed["work"], flow_run["id"])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["config"]["llm"]["secret_block"] == SECRET_BLOCK
    assert "corpus-statistics" in made and (folder / "report.html").is_file()

    exported = run_deployment(prefect, "export", flow="toolforge-export")  # the latest run, as hf
    assert exported["state"]["type"] == "COMPLETED", (prefect.home / "worker.log").read_text()[-3000:]
    assert "export-hf" in artifacts(prefect, exported["id"])
    summary = json.loads((folder / "exports" / "hf" / "export.json").read_text())
    assert summary["run_id"] == folder.name and sum(summary["dialogs"].values()) + summary[
        "straddling"
    ] == manifest_dialogs(folder)

    evaluated = run_deployment(prefect, "evaluate", flow="toolforge-evaluate")  # the latest run's eval split
    assert evaluated["state"]["type"] == "COMPLETED", (prefect.home / "worker.log").read_text()[-3000:]
    assert "| model | cases | procedure |" in artifacts(prefect, evaluated["id"])["evaluation-scores"]["data"]
    (evaluation,) = (deployed["work"] / "out" / "evaluations").glob("*/evaluation.json")
    assert json.loads(evaluation.read_text())["status"] == "completed"


def test_the_regeneration_has_its_schedule_and_reports_what_changed(
    prefect: PrefectServer, deployed: dict, fake
):
    deployment = prefect.api("GET", "/deployments/name/toolforge-corpus/regeneration")
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == [CRON] and deployment[
        "paused"
    ] is False
    only = {"deployment_id": {"any_": [deployment["id"]]}, "state": {"type": {"any_": ["SCHEDULED"]}}}
    deadline, scheduled = time.monotonic() + 300, []
    while not scheduled and time.monotonic() < deadline:  # the server's scheduler service makes them
        scheduled = prefect.api("POST", "/flow_runs/filter", {"flow_runs": only})
        time.sleep(1)
    assert scheduled and all(run["expected_start_time"][11:16] == "03:00" for run in scheduled)

    fake.reset_counters()
    first = run_deployment(prefect, "regeneration")
    assert first["state"]["type"] == "COMPLETED", (prefect.home / "worker.log").read_text()[-3000:]
    per_tool = (fake.completions - 1) / 2  # two tools, and the model check's one call
    seed_list(deployed["regeneration_seeds"], ["Tide Tables", "Star Charts", "Moon Phases"])
    fake.reset_counters()
    second = run_deployment(prefect, "regeneration")
    assert second["state"]["type"] == "COMPLETED"

    manifest = json.loads((run_folder(deployed["work"], second["id"]) / "manifest.json").read_text())
    changes = manifest["changes"]
    assert changes["previous_run_id"] == run_folder(deployed["work"], first["id"]).name
    assert (changes["added"], changes["removed"], changes["changed"]) == (["Moon Phases"], [], [])
    assert (changes["tools_before"], changes["tools_after"]) == (2, 3)
    assert (changes["dialogs_before"], changes["dialogs_after"]) == (4, 6)
    assert fake.completions == manifest["llm"]["calls"], "every call the server answered is in the ledger"
    assert fake.completions - 1 == per_tool, "the second run paid for more than the new seed"
    assert manifest["llm"]["cache_hits"] > 0
    assert "tools added (1): Moon Phases" in artifacts(prefect, second["id"])["corpus-report"]["data"]


def test_no_secret_in_parameters_artifacts_logs_or_files(prefect: PrefectServer, deployed: dict, fake):
    if not prefect.api("POST", "/flow_runs/filter", {}):
        run_deployment(prefect, "corpus")
    searched = [prefect.api("POST", "/deployments/filter", {}), prefect.api("POST", "/flow_runs/filter", {})]
    searched += [
        prefect.api("POST", "/artifacts/filter", {}),
        prefect.api("POST", "/logs/filter", {"limit": 200}),
    ]
    assert all(searched[:2]) and searched[2] and searched[3], "nothing to search"
    assert KEY not in json.dumps(searched)
    for path in (deployed["work"] / "out").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"the key is in {path}"
    for name in ("worker.log", "server.log"):
        assert KEY not in (prefect.home / name).read_text(errors="replace")


def test_the_forecast_deployment_forecasts_the_corpus_deployments_run(prefect: PrefectServer, deployed: dict):
    flow_run = run_deployment(prefect, "forecast")

    assert flow_run["state"]["type"] == "COMPLETED", (prefect.home / "worker.log").read_text()[-3000:]
    made = artifacts(prefect, flow_run["id"])
    assert "| **all** |" in made["corpus-forecast"]["data"]
    forecasts = list((deployed["work"] / "out" / "forecasts" / "runs").glob("*/forecast.json"))
    assert [json.loads(path.read_text())["seeds"] for path in forecasts] == [2]


def test_prefects_own_command_line_lists_the_deployments_their_runs_and_the_pool(
    prefect: PrefectServer, deployed: dict
):
    """`prefect deployment ls`, `prefect flow-run ls` and `prefect work-pool ls` against the server:
    Prefect's client and server agree on the dependency set the project pins."""
    runs = prefect.api("POST", "/flow_runs/filter", {"sort": "EXPECTED_START_TIME_DESC", "limit": 5})
    if not runs:
        runs = [run_deployment(prefect, "corpus")]

    listed = prefect.prefect("deployment", "ls")
    for name in ("corpus", "forecast", "regeneration"):
        assert f"toolforge-corpus/{name}" in listed, listed
    for flow, name in (("toolforge-export", "export"), ("toolforge-evaluate", "evaluate")):
        assert f"{flow}/{name}" in listed, listed
    assert "toolforge-train/train" in listed, listed
    assert all(deployment_id in listed for deployment_id in deployed["ids"]), (deployed["ids"], listed)

    flow_runs = prefect.prefect("flow-run", "ls", "--limit", "50")
    assert all(run["id"] in flow_runs for run in runs), flow_runs
    assert POOL in prefect.prefect("work-pool", "ls")


def test_the_train_deployment_trains_on_the_latest_run_of_the_store(prefect: PrefectServer, deployed: dict):
    deployment = prefect.api("GET", "/deployments/name/toolforge-train/train")
    config = deployment["parameters"]["config"]
    out = str((deployed["work"] / "out").resolve())
    assert config["out_dir"] == out and config["out"] == str(Path(out) / "models" / "latest")
    assert config.get("corpus", "latest") == "latest" and "api_key" not in json.dumps(config)
    assert deployment["entrypoint"] == "flows/train.py:train_flow"
