"""Shared fixtures: the scripted fake LLM, gateway settings in a temp dir, the shared data folder, the
session's Prefect server (`tests/support/prefect_server.py`) and the shared corpus run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from agents.llm.config import LLMConfig
from schemas.tool import Tool
from tests.support.fake_llm import ScriptedLLM, install
from tests.support.prefect_server import PrefectServer, session_server
from tests.support.scripts import atlas_tool

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def scripted_llm() -> ScriptedLLM:
    return install()


@pytest.fixture
def llm_config(tmp_path: Path) -> LLMConfig:
    """Settings for the scripted model: JSON-schema requests, a private cache, no backoff waits."""
    return LLMConfig(
        model="scripted/test",
        structured_output="json_schema",
        cache_dir=str(tmp_path / "cache"),
        backoff_base_s=0.0,
        backoff_max_s=0.0,
        max_attempts=3,
    )


@pytest.fixture
def tool(scripted_llm: ScriptedLLM, llm_config: LLMConfig) -> Tool:
    """The atlas tool (`tests/support/scripts.py`), for simulation tests."""
    return atlas_tool(scripted_llm, llm_config)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[PrefectServer]:
    """One temporary Prefect server and database for the whole session (starting one is slow): the
    flows run in this process report to it, and so do those of every child process (`PREFECT_API_URL`)."""
    with session_server() as server:
        yield server


@pytest.fixture(scope="module")
def prefect_home(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Prefect home for the command lines a test module starts; they report to the session's server."""
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture(scope="session")
def fake_run(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory):
    """A published corpus run of 24 tools against the fake LLM server (`tests/support/corpus_run.py`)."""
    from tests.support.corpus_run import make_fake_run

    return make_fake_run(tmp_path_factory.mktemp("fake-run"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the session's Prefect server, directly or through another fixture
    (`fake_run`, `prefect_home`): `-m "not prefect_server"` leaves them out."""
    for item in items:
        if "prefect_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.prefect_server)
