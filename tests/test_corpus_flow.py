"""The corpus flow end to end on the scripted fake LLM: run layout, manifest, caching, rejections, CLI.

Every test runs the real Prefect flow (`flows.corpus.run`) against one temporary Prefect server
(`prefect_server`), with the LLM cache, the task results and the run store in the test's tmp dir.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import litellm
import pandas as pd
import pyarrow.parquet as pq
import pytest
from openapi_spec_validator import validate

from agents.llm.config import LLMConfig
from bench import responders
from flows import corpus
from schemas.errors import RunStopped
from tests.support.corpus_flow import HEADER, corpus_config, manifest_of, run_corpus, table, write_seeds
from tests.support.fake_llm import ScriptedLLM

pytestmark = pytest.mark.usefixtures("prefect_server")

ARTIFACTS = ("seeds", "tools", "rejected_tools")
SECRET_KEY = "sk-test-secret-0123456789abcdef"


# -- helpers ---------------------------------------------------------------------------------------


def stage_stats(manifest: dict[str, Any], name: str = "toolset") -> dict[str, Any]:
    found = [s for s in manifest["stages"] if s["name"] == name]
    assert len(found) == 1, f"expected one {name!r} stage in {manifest['stages']}"
    return found[0]


def toolset_llm(manifest: dict[str, Any]) -> dict[str, int]:
    """LLM calls and cache hits of the toolset stage, from the manifest's usage rows."""
    rows = [r for r in manifest["llm"]["by_stage_role"] if r["stage"] == "toolset"]
    return {key: sum(r[key] for r in rows) for key in ("calls", "cache_hits", "errors")}


def assert_reconciles(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every seed ended as exactly one tool or one rejection; the manifest counts agree with the files."""
    seeds, tools, rejected = (table(run_dir, name) for name in ARTIFACTS)
    seed_ids, tool_ids, rejected_ids = (
        set(df[col])
        for df, col in zip((seeds, tools, rejected), ("seed_id", "tool_id", "tool_id"), strict=True)
    )
    assert len(seeds) == len(tools) + len(rejected)
    assert tool_ids | rejected_ids == seed_ids and not tool_ids & rejected_ids
    manifest = manifest_of(run_dir)
    toolset = stage_stats(manifest)
    assert (toolset["inputs"], toolset["outputs"], toolset["rejected"]) == (
        len(seeds),
        len(tools),
        len(rejected),
    )
    for name, df in zip(ARTIFACTS, (seeds, tools, rejected), strict=True):
        assert manifest["artifacts"][name]["rows"] == len(df)
    return seeds, tools, rejected


def request_text(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in request["messages"])


def is_about(request: dict[str, Any], api: str) -> bool:
    return f"Name: {api}\n" in request_text(request) + "\n"


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


# -- tests ---------------------------------------------------------------------------------------


def test_a_run_writes_a_complete_versioned_run(scripted_llm: ScriptedLLM, llm_config: LLMConfig, tmp_path):
    scripted_llm.script = responders.toolforge
    seeds_path = write_seeds(tmp_path)
    config = corpus_config(llm_config, tmp_path, seeds_path)

    run_dir = run_corpus(config)

    out = tmp_path / "out"
    assert run_dir.parent == out / "runs"
    assert (run_dir / "manifest.json").is_file()
    for name in ARTIFACTS:
        assert sorted(p.name for p in (run_dir / name).iterdir()) == ["part-00000.parquet"]
    assert (out / "latest").read_text().strip() == run_dir.name

    seeds, tools, rejected = assert_reconciles(run_dir)
    assert len(seeds) == 4 and len(tools) == 4 and rejected.empty
    assert sorted(seeds["name"]) == ["Cat Facts", "Dog API", "Open Meteo", "Tide Tables"]
    for spec in tools["openapi"]:
        validate(json.loads(spec))

    # functions and routes are nested list columns, not JSON text
    schema = pq.read_schema(run_dir / "tools" / "part-00000.parquet")
    for column in ("functions", "routes"):
        assert str(schema.field(column).type).startswith("list<"), schema.field(column).type
    cat = tools.set_index("name").loc["Cat Facts"]
    assert [f["name"] for f in cat["functions"]] == ["searchCatFacts", "getCatFactsRecord"]
    assert {(r["method"], r["path"]) for r in cat["routes"]} == {
        ("GET", "/records"),
        ("GET", "/records/{recordId}"),
    }
    assert cat["model"] == "scripted/test"

    manifest = manifest_of(run_dir)
    assert manifest["status"] == "completed"
    assert manifest["run_id"] == run_dir.name
    assert manifest["finished_at"] and manifest["code_version"]
    assert manifest["llm"]["calls"] > 0
    assert manifest["llm"]["calls"] == scripted_llm.calls
    assert manifest["llm"]["errors"] == 0
    assert manifest["llm"]["prompt_tokens"] > 0 and manifest["llm"]["completion_tokens"] > 0
    # a first run has nothing cached for the toolset (later stages may legitimately repeat a request
    # within a run, e.g. the same function call executed twice)
    toolset_usage = toolset_llm(manifest)
    assert toolset_usage["calls"] == 2 * len(seeds) and toolset_usage["cache_hits"] == 0
    assert set(ARTIFACTS) <= set(manifest["artifacts"])
    for name, info in manifest["artifacts"].items():
        assert info["path"] == name and info["rows"] == len(table(run_dir, name))
        for part in info["parts"]:
            data = (run_dir / part["path"]).read_bytes()
            assert part["sha256"] == hashlib.sha256(data).hexdigest()
            assert part["bytes"] == len(data)
            assert part["rows"] == pq.read_metadata(run_dir / part["path"]).num_rows
    assert manifest["inputs"]["seed_source"] == hashlib.sha256(seeds_path.read_bytes()).hexdigest()
    assert manifest["config"] == json.loads(json.dumps(config.public_dump()))
    assert manifest["config"]["llm"]["model"] == "scripted/test"
    assert not any("key" in field.lower() for field in manifest["config"]["llm"])
    assert manifest["notes"] == []


def test_an_identical_run_is_served_from_the_cache(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig, tmp_path
):
    scripted_llm.script = responders.toolforge
    config = corpus_config(llm_config, tmp_path, write_seeds(tmp_path))

    first = run_corpus(config)
    calls = scripted_llm.calls
    assert calls > 0
    second = run_corpus(config)

    assert scripted_llm.calls == calls, "the second run asked the model again"
    manifest = manifest_of(second)
    assert manifest["status"] == "completed"
    assert manifest["llm"]["calls"] == 0
    assert second != first and second.name != manifest_of(first)["run_id"]
    assert (tmp_path / "out" / "latest").read_text().strip() == second.name
    _, first_tools, _ = assert_reconciles(first)
    _, second_tools, _ = assert_reconciles(second)
    assert first_tools.sort_values("tool_id")["openapi"].tolist() == (
        second_tools.sort_values("tool_id")["openapi"].tolist()
    )
    assert len(second_tools) == 4


def test_broken_seed_rows_are_noted_and_the_good_ones_still_become_tools(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig, tmp_path
):
    scripted_llm.script = responders.toolforge
    text = (
        "### Animals\n"
        + HEADER
        + "| [Cat Facts](https://catfact.example.org) | Daily cat facts | No | Yes | No |\n"
        "| [Short Row](https://short.example.org) | Too few cells |\n"
        "| [No Description](https://empty.example.org) |  | No | Yes | Yes |\n"
        "| [Dog API](https://dog.example.org) | Pictures of dogs by breed | No | Yes | Yes |\n"
    )
    seeds_path = write_seeds(tmp_path, text, name="broken.md")
    lines = text.splitlines()
    short_line = next(i for i, line in enumerate(lines, 1) if "Short Row" in line)
    empty_line = next(i for i, line in enumerate(lines, 1) if "No Description" in line)

    run_dir = run_corpus(corpus_config(llm_config, tmp_path, seeds_path))

    manifest = manifest_of(run_dir)
    assert manifest["status"] == "completed"
    notes = "\n".join(manifest["notes"])
    assert f"{seeds_path}:{short_line}" in notes and "Short Row" in notes
    assert f"{seeds_path}:{empty_line}" in notes and "No Description" in notes
    assert "empty description" in notes
    seeds, tools, rejected = assert_reconciles(run_dir)
    assert sorted(seeds["name"]) == sorted(tools["name"]) == ["Cat Facts", "Dog API"]
    assert rejected.empty


def test_a_seed_without_functions_is_rejected_at_the_functions_stage(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig, tmp_path
):
    def script(request: dict[str, Any]) -> str:
        if responders.schema_name(request) == "FunctionCatalog" and is_about(request, "Dog API"):
            return json.dumps({"functions": []})
        return responders.toolforge(request)

    scripted_llm.script = script
    run_dir = run_corpus(corpus_config(llm_config, tmp_path, write_seeds(tmp_path)))

    assert manifest_of(run_dir)["status"] == "completed"
    _, tools, rejected = assert_reconciles(run_dir)
    assert len(tools) == 3 and len(rejected) == 1
    row = rejected.iloc[0]
    assert (row["name"], row["step"], row["rule"]) == ("Dog API", "toolset", "functions")
    assert "FunctionCatalog" in row["reason"]
    assert "Dog API" not in set(tools["name"])
    # the gateway re-asked (repairs) before giving up
    asked = [r for r in scripted_llm.requests if responders.schema_name(r) == "FunctionCatalog"]
    assert sum(is_about(r, "Dog API") for r in asked) == llm_config.repair_attempts + 1


def test_a_task_that_fails_after_its_retries_is_recorded_as_rejected(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig, tmp_path, monkeypatch
):
    def script(request: dict[str, Any]) -> str:
        if is_about(request, "Tide Tables"):
            raise litellm.RateLimitError(message="slow down", llm_provider="scripted", model="test")
        return responders.toolforge(request)

    scripted_llm.script = script
    config = corpus_config(llm_config, tmp_path, write_seeds(tmp_path), max_attempts=2)

    run_dir = run_corpus(config)

    manifest = manifest_of(run_dir)
    assert manifest["status"] == "completed"
    _, tools, rejected = assert_reconciles(run_dir)
    assert len(tools) == 3 and len(rejected) == 1
    row = rejected.iloc[0]
    assert row["name"] == "Tide Tables"
    assert (row["step"], row["rule"]) == ("toolset", "llm_error")
    assert "RateLimitError after 2 attempt(s)" in row["reason"]
    # the unit of retry is the call: max_attempts tries of the one that failed, no retry of the batch
    tries = sum(is_about(r, "Tide Tables") for r in scripted_llm.requests)
    assert tries == 2
    assert manifest["llm"]["errors"] == tries
    (rejection,) = table(run_dir, "rejections").to_dict("records")
    assert (rejection["step"], rejection["rule"]) == ("toolset", "llm_error")
    assert rejection["item_id"] == row["tool_id"]


@pytest.mark.slow
def test_no_cache_calls_the_model_again(scripted_llm: ScriptedLLM, llm_config: LLMConfig, tmp_path):
    scripted_llm.script = responders.toolforge
    seeds_path = write_seeds(tmp_path)
    cached = corpus_config(llm_config, tmp_path, seeds_path)
    uncached = corpus_config(llm_config, tmp_path, seeds_path, use_cache=False)

    first = manifest_of(run_corpus(cached))
    calls = scripted_llm.calls
    cache_dir = Path(llm_config.cache_dir)
    cache_files = sorted(files_under(cache_dir))
    assert cache_files

    run_dir = run_corpus(uncached)

    manifest = manifest_of(run_dir)
    assert manifest["llm"]["calls"] > 0 and manifest["llm"]["cache_hits"] == 0
    assert scripted_llm.calls == calls + manifest["llm"]["calls"]
    assert toolset_llm(manifest)["calls"] == toolset_llm(first)["calls"] > 0
    assert manifest["config"]["llm"]["use_cache"] is False
    assert len(assert_reconciles(run_dir)[1]) == 4
    # --no-cache neither reads nor writes the caches ...
    assert sorted(files_under(cache_dir)) == cache_files
    # ... and leaves the earlier answers usable
    calls = scripted_llm.calls
    run_corpus(cached)
    assert scripted_llm.calls == calls


def test_no_secret_reaches_the_run_or_the_cache(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig, tmp_path, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)

    def script(request: dict[str, Any]) -> str:  # one provider error that echoes the key
        if is_about(request, "Tide Tables"):
            raise litellm.AuthenticationError(
                message=f"invalid api key {SECRET_KEY}", llm_provider="scripted", model="test"
            )
        return responders.toolforge(request)

    scripted_llm.script = script
    config = corpus_config(
        llm_config, tmp_path, write_seeds(tmp_path), api_base="https://user:pw-secret@127.0.0.1:9/v1"
    )

    run_dir = run_corpus(config)

    manifest = manifest_of(run_dir)
    assert manifest["status"] == "completed"
    assert manifest["config"]["llm"]["api_base"] == "https://127.0.0.1:9/v1"
    _, tools, rejected = assert_reconciles(run_dir)
    assert len(tools) == 3
    assert rejected.iloc[0]["rule"] == "llm_error" and "[REDACTED]" in rejected.iloc[0]["reason"]
    files = files_under(tmp_path / "out", Path(llm_config.cache_dir))
    assert any(p.suffix == ".parquet" for p in files) and any(p.suffix == ".json" for p in files)
    for path in files:
        data = path.read_bytes()
        assert SECRET_KEY.encode() not in data, f"the API key leaked into {path}"
        assert b"pw-secret" not in data, f"the api_base password leaked into {path}"


def test_cli_prints_the_run_directory_last(scripted_llm: ScriptedLLM, tmp_path, capsys):
    scripted_llm.script = responders.toolforge
    seeds_path = write_seeds(tmp_path)
    out = tmp_path / "out"
    common = ["--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--model", "scripted/test"]
    common += ["--structured-output", "json_schema"]

    assert corpus.main(["--seeds", str(seeds_path), *common]) == 0

    stdout = capsys.readouterr().out
    run_dir = Path(stdout.strip().splitlines()[-1])
    assert run_dir.is_dir() and run_dir.parent == out / "runs"
    assert (out / "latest").read_text().strip() == run_dir.name
    manifest = manifest_of(run_dir)
    assert manifest["status"] == "completed"
    assert manifest["config"]["llm"]["cache_dir"] == str(tmp_path / "cache")
    assert len(assert_reconciles(run_dir)[1]) == 4


def test_cli_reports_a_missing_seed_file(scripted_llm: ScriptedLLM, tmp_path, capsys):
    scripted_llm.script = responders.toolforge
    missing = tmp_path / "nowhere" / "apis.md"
    out = tmp_path / "out"
    argv = ["--seeds", str(missing), "--out", str(out), "--cache-dir", str(tmp_path / "cache")]

    assert corpus.main([*argv, "--model", "scripted/test"]) == 2

    captured = capsys.readouterr()
    error_lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert error_lines and str(missing) in error_lines[-1]
    assert not (out / "latest").exists()
    assert scripted_llm.calls == 0


def test_cli_rejects_an_unknown_role(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        corpus.main(["--role-model", "bogus=x", "--out", str(tmp_path / "out")])
    assert exited.value.code == 2
    assert "bogus" in capsys.readouterr().err


def test_counts_of_rejections_by_stage_are_consistent(scripted_llm: ScriptedLLM, llm_config, tmp_path):
    """Two kinds of rejection in one run: each rejected seed is filed once, with its own stage."""

    def script(request: dict[str, Any]) -> str:
        if responders.schema_name(request) == "Introduction" and is_about(request, "Cat Facts"):
            return json.dumps({"introduction": "too short"})
        if responders.schema_name(request) == "FunctionCatalog" and is_about(request, "Open Meteo"):
            return json.dumps({"functions": []})
        return responders.toolforge(request)

    scripted_llm.script = script
    run_dir = run_corpus(corpus_config(llm_config, tmp_path, write_seeds(tmp_path)))

    _, tools, rejected = assert_reconciles(run_dir)
    assert Counter(zip(rejected["name"], rejected["rule"], strict=True)) == Counter(
        {("Cat Facts", "introduction"): 1, ("Open Meteo", "functions"): 1}
    )
    assert sorted(tools["name"]) == ["Dog API", "Tide Tables"]
    assert all(reason.strip() for reason in rejected["reason"])


@pytest.mark.slow
def test_a_rejection_caused_by_a_bad_key_is_not_reused_once_the_key_is_fixed(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig, tmp_path
):
    """A permanent provider error (here a wrong API key) says nothing about the seed: the next run,
    with the key fixed, must ask the model again instead of reusing the cached rejection."""
    key_is_bad = True

    def script(request: dict[str, Any]) -> str:
        if key_is_bad and is_about(request, "Dog API"):
            raise litellm.AuthenticationError(
                message="invalid api key", llm_provider="scripted", model="test"
            )
        return responders.toolforge(request)

    scripted_llm.script = script
    config = corpus_config(llm_config, tmp_path, write_seeds(tmp_path))
    _, _, rejected = assert_reconciles(run_corpus(config))
    assert rejected[["name", "rule"]].values.tolist() == [["Dog API", "llm_error"]]

    key_is_bad = False  # the user fixes the key in the environment and runs again
    asked = scripted_llm.calls
    run_dir = run_corpus(config)

    assert any(is_about(r, "Dog API") for r in scripted_llm.requests[asked:]), (
        "the rejection from the failed key was served from the task cache"
    )
    _, tools, rejected = assert_reconciles(run_dir)
    assert rejected.empty and "Dog API" in set(tools["name"])


def test_a_model_that_fails_every_call_midway_stops_the_run_with_what_it_finished(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig, tmp_path, monkeypatch
):
    """The server goes away after the first tool: the run stops with the reason instead of rejecting
    every remaining seed after a slow round of retries; what it finished is written, never `latest`."""
    rows = [f"| [Api {n}](https://api{n}.example.org) | Record {n} | No | Yes | Yes |" for n in range(30)]
    many = "### Animals\n" + HEADER + "\n".join(rows) + "\n"

    first_tool_built = threading.Event()

    def script(request: dict[str, Any]) -> str:
        if is_about(request, "Api 0"):
            if responders.schema_name(request) == "FunctionCatalog":
                first_tool_built.set()
            return responders.toolforge(request)
        first_tool_built.wait(30)  # the server goes away once the first tool is documented
        raise litellm.APIConnectionError(message="Connection refused", llm_provider="scripted", model="test")

    scripted_llm.script = script
    failing_fast = {"max_attempts": 1, "stop_after_failures": 3, "concurrency": 32}  # a slot for each
    config = corpus_config(llm_config, tmp_path, write_seeds(tmp_path, many), **failing_fast)
    config = config.model_copy(update={"stages": ["toolset"]})

    with pytest.raises(RunStopped, match="model scripted/test: the last 3 calls all failed the same way"):
        run_corpus(config)

    out = tmp_path / "out"
    assert not (out / "latest").exists()
    (run_dir,) = (out / "runs").iterdir()
    manifest = manifest_of(run_dir)
    assert manifest["status"] == "failed"
    assert any(n.startswith("stopped: role toolsmith: model scripted/test") for n in manifest["notes"])
    toolset = stage_stats(manifest)
    assert toolset["inputs"] == 30 and toolset["unfinished"] > 0
    assert toolset["inputs"] == toolset["outputs"] + toolset["rejected"] + toolset["unfinished"]
    tools, rejected = table(run_dir, "tools"), table(run_dir, "rejected_tools")
    assert list(tools["name"]) == ["Api 0"] and len(rejected) == toolset["rejected"]
    # only the failures before the breaker tripped are rejections (2 in a row, or 4 when Api 0's last
    # answer lands between them and restarts the streak); the rest were neither retried by Prefect
    # (3 tries each) nor rejected: at most one call per seed, plus Api 0's second
    assert toolset["rejected"] <= 4 and toolset["unfinished"] >= 25
    assert scripted_llm.calls <= 30 + 1
