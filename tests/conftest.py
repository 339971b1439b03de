"""Shared fixtures: the scripted fake LLM, gateway settings in a temp dir, and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from agents.llm.config import LLMConfig
from schemas.tool import Tool
from tests.fake_llm import ScriptedLLM, install
from tests.scripts import atlas_tool

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
    """The atlas tool (`tests/scripts.py`), for simulation tests."""
    return atlas_tool(scripted_llm, llm_config)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server and database for the whole session (starting one is slow)."""
    from prefect.testing.utilities import prefect_test_harness

    timeout = int(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
    with prefect_test_harness(server_startup_timeout=timeout):
        yield


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Prefect home for the command lines a test module starts (its database is made once)."""
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture(scope="session")
def fake_run(prefect_harness, tmp_path_factory: pytest.TempPathFactory):
    """A published corpus run of 24 tools against the fake LLM server (`tests/corpus_run.py`)."""
    from tests.corpus_run import make_fake_run

    return make_fake_run(tmp_path_factory.mktemp("fake-run"))
