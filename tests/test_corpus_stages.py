"""The whole corpus flow (toolset -> instructions -> simulation): reconciliation, valid observations,
re-runs, --stages and --from-run; once in-process and once over HTTP through the fake server."""

from __future__ import annotations

import json
from pathlib import Path

import litellm
import pandas as pd
import pytest

from agents.llm.config import LLMConfig
from bench import responders
from bench.fake_llm_server import FakeLLMServer
from flows import corpus, report
from flows.config import CorpusConfig, SeedSelection
from schemas.calls import check_response
from schemas.errors import InputError
from schemas.simulation import ExecutorAnswer
from tests.support.fake_llm import ScriptedLLM

pytestmark = pytest.mark.usefixtures("prefect_server")

SEEDS_MD = (
    "### Places\n| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n"
    "| [Atlas](https://atlas.example.org) | Records about places | No | Yes | Yes |\n"
    "| [Harbours](https://harbours.example.org) | Harbours and their tides | No | Yes | Yes |\n"
)


SINGLE_AND_PARALLEL = {"instructions_per_tool": 2, "dialog_mix": {"single": 1, "parallel": 1}}
"""Two dialogues per tool, both calling the tool."""


def config_for(tmp_path: Path, llm: LLMConfig, **changes) -> CorpusConfig:
    seeds = tmp_path / "apis.md"
    seeds.write_text(SEEDS_MD, encoding="utf-8")
    base = CorpusConfig(seeds=SeedSelection(source=str(seeds)), llm=llm, out=str(tmp_path / "out"))
    return CorpusConfig.model_validate(base.model_dump() | changes)


def tables(run_dir: str) -> dict[str, pd.DataFrame]:
    names = ["tools", "instructions", "dialogs", "rejected_dialogs"]
    return {n: pd.read_parquet(Path(run_dir) / n) for n in names}


def manifest(run_dir: str) -> dict:
    return json.loads((Path(run_dir) / "manifest.json").read_text())


def assert_observations_valid(run: dict[str, pd.DataFrame]) -> int:
    """Every 2xx tool observation conforms to its operation's response schema; returns how many."""
    specs = {row.tool_id: json.loads(row.openapi) for row in run["tools"].itertuples()}
    checked = 0
    for frame in (run["dialogs"], run["rejected_dialogs"]):
        for row in frame.itertuples():
            for message in row.messages:
                if message["role"] == "tool" and 200 <= message["status_code"] < 300:
                    body = json.loads(message["content"])
                    answer = ExecutorAnswer(status_code=message["status_code"], body=body)
                    check_response(specs[row.tool_id], message["name"], answer)
                    checked += 1
    return checked


def test_a_full_run_reconciles_and_every_2xx_observation_is_valid(
    scripted_llm: ScriptedLLM, llm_config, tmp_path
):
    scripted_llm.script = responders.toolforge
    config = config_for(tmp_path, llm_config, simulation={"instructions_per_tool": 3, "max_steps": 5})
    run_dir = corpus.run(config)
    run = tables(run_dir)
    assert len(run["instructions"]) == 6
    assert len(run["instructions"]) == len(run["dialogs"]) + len(run["rejected_dialogs"])
    assert len(run["dialogs"]) == 6 and set(run["dialogs"]["status"]) == {"accepted"}
    assert assert_observations_valid(run) == run["dialogs"]["calls"].sum() >= 6
    stages = {s["name"]: s for s in manifest(run_dir)["stages"]}
    assert stages["simulation"]["inputs"] == 6 and stages["simulation"]["outputs"] == 6
    assert {r["stage"] for r in manifest(run_dir)["llm"]["by_stage_role"]} == {
        "toolset",
        "instructions",
        "simulation",
        "judge",
    }

    calls = scripted_llm.calls
    again = corpus.run(config)
    assert manifest(again)["llm"]["calls"] == 0 and scripted_llm.calls == calls
    # rows come in the order they were finished: the same records, sorted by id
    assert sorted(tables(again)["dialogs"]["dialog_id"]) == sorted(run["dialogs"]["dialog_id"])


def test_stages_run_separately_and_reuse_an_earlier_runs_outputs(
    scripted_llm: ScriptedLLM, llm_config, tmp_path
):
    scripted_llm.script = responders.toolforge
    first = corpus.run(config_for(tmp_path, llm_config, stages=["toolset"]))
    assert not (Path(first) / "instructions").exists()
    assert [s["name"] for s in manifest(first)["stages"]] == ["toolset"]

    second = corpus.run(
        config_for(
            tmp_path,
            llm_config,
            stages=["instructions"],
            from_run="latest",
            simulation={"instructions_per_tool": 2},
        )
    )
    usage = manifest(second)["llm"]["by_stage_role"]
    assert {r["stage"] for r in usage} == {"instructions"}
    assert manifest(second)["inputs"]["from_run"] == Path(first).name
    assert len(pd.read_parquet(Path(second) / "tools")) == 2

    third = corpus.run(config_for(tmp_path, llm_config, stages=["simulation"], from_run=Path(second).name))
    run = tables(third)
    assert len(run["dialogs"]) + len(run["rejected_dialogs"]) == len(run["instructions"]) == 4
    assert {r["stage"] for r in manifest(third)["llm"]["by_stage_role"]} == {"simulation", "judge"}


def test_a_simulation_whose_llm_call_fails_is_filed_as_a_rejected_dialog(
    scripted_llm: ScriptedLLM, llm_config, tmp_path, monkeypatch
):
    def script(request: dict) -> str:
        text = "\n".join(str(m.get("content", "")) for m in request["messages"])
        if responders.schema_name(request) == "ExecutorAnswer" and "Harbours" in text:
            raise litellm.AuthenticationError(message="invalid api key", llm_provider="scripted", model="t")
        return responders.toolforge(request)

    scripted_llm.script = script
    summaries: dict[str, list[dict]] = {}
    reports: dict[str, str] = {}
    monkeypatch.setattr(
        report, "create_table_artifact", lambda table, key, **_: summaries.update({key: table})
    )
    monkeypatch.setattr(
        report, "create_markdown_artifact", lambda markdown, key, **_: reports.update({key: markdown})
    )
    run_dir = corpus.run(config_for(tmp_path, llm_config, simulation=SINGLE_AND_PARALLEL))
    run = tables(run_dir)
    assert len(run["instructions"]) == len(run["dialogs"]) + len(run["rejected_dialogs"]) == 4
    assert set(run["dialogs"]["tool_id"]) == {"atlas"}
    failed = run["rejected_dialogs"]
    assert set(failed["tool_id"]) == {"harbours"} and set(failed["rejection_rule"]) == {"llm_error"}
    assert all("AuthenticationError" in reason for reason in failed["rejection_reason"])
    assert (failed["calls"] == 0).all() and (failed["final_answer"] == "").all()
    assert sorted(failed["dialog_id"]) == sorted(
        i for i in run["instructions"]["instruction_id"] if i.startswith("harbours")
    )
    stages = {s["name"]: s for s in manifest(run_dir)["stages"]}
    assert (stages["simulation"]["outputs"], stages["simulation"]["rejected"]) == (2, 2)
    # the run's summary table in the Prefect UI: one row per tool
    summary = summaries["corpus-summary"]
    assert {row["check"] for row in summaries["corpus-checks"]} >= {"no_final_answer", "hallucination"}
    counts = {row["tool"]: (row["instructions"], row["accepted"], row["rejected"]) for row in summary}
    assert counts == {"atlas": (2, 2, 0), "harbours": (2, 0, 2)}
    # and its report: rejections by step and rule, usage per stage and role
    assert set(reports) == {"corpus-report", "corpus-statistics"}
    markdown = reports["corpus-report"]
    assert "| simulation | llm_error | 2 |" in markdown
    assert "| simulation | executor | scripted/test |" in markdown


def test_stage_choices_that_lack_inputs_are_refused(llm_config, tmp_path):
    with pytest.raises(ValueError, match="from-run"):
        config_for(tmp_path, llm_config, stages=["simulation"])
    with pytest.raises(ValueError, match="needs instructions"):
        config_for(tmp_path, llm_config, stages=["toolset", "simulation"])
    with pytest.raises(InputError, match="no run 'nope'"):
        corpus.run(config_for(tmp_path, llm_config, stages=["instructions"], from_run="nope"))


def test_an_output_store_that_cannot_be_written_is_refused_before_any_work(llm_config, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = config_for(tmp_path, llm_config).model_copy(update={"out": str(blocker / "out")})
    with pytest.raises(InputError, match=r"--out .*a-file/out: the run store cannot be written"):
        corpus.run(config)


def test_the_corpus_flow_over_http_through_the_fake_server(tmp_path):
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.02) as server:
        llm = LLMConfig(
            model="openai/fake-model",
            api_base=server.base_url,
            cache_dir=str(tmp_path / "cache"),
            concurrency=4,
            timeout_s=60,  # a busy machine's slow answer is waited for, not retried
        )
        run_dir = corpus.run(config_for(tmp_path, llm, simulation=SINGLE_AND_PARALLEL))
        completions = server.completions
    run = tables(run_dir)
    assert len(run["dialogs"]) == 4 and len(run["rejected_dialogs"]) == 0
    assert assert_observations_valid(run) == run["dialogs"]["calls"].sum() >= 4
    assert manifest(run_dir)["llm"]["calls"] == completions


def test_a_run_with_a_mix_of_dialogue_types_files_every_type(
    scripted_llm: ScriptedLLM, llm_config, tmp_path, monkeypatch
):
    scripted_llm.script = responders.toolforge
    reports: dict[str, str] = {}
    monkeypatch.setattr(
        report, "create_markdown_artifact", lambda markdown, key, **_: reports.update({key: markdown})
    )
    monkeypatch.setattr(report, "create_table_artifact", lambda table, **_: None)
    kinds = ["single", "parallel", "dependent", "non_tool", "multi_turn"]
    mix = dict.fromkeys(kinds, 0.2)
    config = config_for(tmp_path, llm_config, simulation={"instructions_per_tool": 5, "dialog_mix": mix})
    run_dir = corpus.run(config)
    run = tables(run_dir)
    assert sorted(run["instructions"]["dialog_type"]) == sorted(kinds * 2)
    dialogs = run["dialogs"].set_index("dialog_id")
    assert len(dialogs) == 10 and len(run["rejected_dialogs"]) == 0
    shape = dialogs.groupby("dialog_type")[["calls", "calls_per_turn", "turns"]].min().to_dict("index")
    assert shape["non_tool"]["calls"] == 0 and shape["single"]["calls"] >= 1
    assert shape["parallel"]["calls_per_turn"] >= 2 and shape["dependent"]["calls"] >= 2
    assert shape["multi_turn"]["turns"] >= 3
    assert assert_observations_valid(run) == dialogs["calls"].sum()
    assert manifest(run_dir)["config"]["simulation"]["dialog_mix"] == mix
    assert set(reports) == {"corpus-report", "corpus-statistics"}
    markdown = reports["corpus-report"]
    assert "## Dialogues by type" in markdown
    assert all(f"| {kind} | 2 | 0 |" in markdown for kind in kinds)
    assert (
        "## Dialogues by complexity\n\n| complexity | accepted | rejected |\n|---|---|---|\n| easy |"
        in markdown
    )


def test_dialogues_offer_the_other_tools_of_the_category(scripted_llm: ScriptedLLM, llm_config, tmp_path):
    scripted_llm.script = responders.toolforge
    simulation = {"instructions_per_tool": 2, "tools_per_dialog": 2, "dialog_mix": {"single": 1}}
    run = tables(corpus.run(config_for(tmp_path, llm_config, simulation=simulation)))
    dialogs = run["dialogs"]
    assert len(dialogs) == 4 and run["rejected_dialogs"].empty
    assert {tuple(ids) for ids in dialogs["tool_ids"]} == {("atlas", "harbours"), ("harbours", "atlas")}
    assert all(len(json.loads(tools)) == 4 for tools in dialogs["tools"])
