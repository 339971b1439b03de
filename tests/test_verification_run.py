"""The verification steps in a whole run (the real flow, the scripted fake LLM): counts reconcile per
rule, pass rates and diversity in the manifest, the judge's cost, and the corpus-wide dedup of
requests and of tools."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import responders
from flows.config import CorpusConfig, VerificationSettings
from tasks.simulation import SimulationSettings
from tests.support.corpus_flow import HEADER, corpus_config, manifest_of, run_corpus, table, write_seeds

pytestmark = pytest.mark.usefixtures("prefect_server")

SEEDS = (
    "### Animals\n"
    + HEADER
    + "| [Cat Facts](https://catfact.example.org) | Daily cat facts | No | Yes | No |\n"
    "| [Dog API](https://dog.example.org) | Pictures of dogs by breed | No | Yes | Yes |\n"
    "| [Cat Facts](https://catfact.example.org/) | Daily cat facts | No | Yes | No |\n"
)


def config(llm_config, tmp_path: Path, judge: str, per_tool: int = 5, **settings: Any) -> CorpusConfig:
    base = corpus_config(llm_config, tmp_path, write_seeds(tmp_path, SEEDS))
    return base.model_copy(
        update={
            "simulation": SimulationSettings(instructions_per_tool=per_tool, **settings),
            "verification": VerificationSettings(judge=judge),  # type: ignore[arg-type]
        }
    )


def judge_rows(manifest: dict[str, Any]) -> dict[str, int]:
    rows = [r for r in manifest["llm"]["by_stage_role"] if r["role"] == "judge"]
    return {key: sum(r[key] for r in rows) for key in ("calls", "cache_hits")}


@pytest.mark.parametrize("mode", ["filter", "flag"])
def test_a_judged_run_reconciles_per_rule_and_reports_pass_rates_and_diversity(
    scripted_llm, llm_config, tmp_path, mode
):
    def script(request: dict[str, Any]) -> Any:
        if responders.schema_name(request) == "JudgeVerdicts":  # the judge fails a third of them
            text = "\n".join(m["content"] for m in request["messages"])
            verdicts = responders.judge_verdicts(request)
            if int(hashlib.sha256(text.encode()).hexdigest(), 16) % 3 == 0:
                verdicts["hallucination"] = {"passed": False, "reason": "The answer invents a fact."}
            return json.dumps(verdicts)
        return responders.varied(request)

    scripted_llm.script = script
    run_dir = run_corpus(config(llm_config, tmp_path, mode, per_tool=10))
    manifest = manifest_of(run_dir)
    dialogs, rejected = table(run_dir, "dialogs"), table(run_dir, "rejected_dialogs")
    instructions, rejections = table(run_dir, "instructions"), table(run_dir, "rejections")

    # dialogues in = accepted + rejected, and per rule the rejections agree with the rejected dialogues
    assert len(instructions) == len(dialogs) + len(rejected) == 20
    on_dialogs = rejections[rejections["step"].isin(["checks", "judge", "dedup", "simulation"])]
    on_dialogs = on_dialogs[on_dialogs["rule"] != "duplicate_tool"]
    assert Counter(on_dialogs["rule"]) == Counter(rejected["rejection_rule"])
    simulation = next(s for s in manifest["stages"] if s["name"] == "simulation")
    assert (simulation["outputs"], simulation["rejected"]) == (len(dialogs), len(rejected))

    # what the judge said is data on every dialogue it saw, accepted or rejected
    judged = [
        [v for v in verdicts if v["layer"] == "judge"]
        for frame in (dialogs, rejected)
        for verdicts in frame["verdicts"]
    ]
    seen = [v for v in judged if v]
    failed = [v for v in seen if not all(x["passed"] for x in v)]
    assert seen and all(len(v) == 4 for v in seen)
    judge_rejected = rejected[rejected["rejection_rule"].isin(responders.JUDGE_CHECKS)]
    assert len(judge_rejected) == (len(failed) if mode == "filter" else 0)
    assert failed and len(failed) < len(seen)

    # at most one judge call per dialogue the rules accepted
    usage = judge_rows(manifest)
    assert usage["calls"] + usage["cache_hits"] == len(seen)

    checks = {(c["layer"], c["check"]): c for c in manifest["checks"]}
    assert {("rules", "ungrounded_argument"), ("rules", "not_executable"), ("judge", "hallucination")} <= set(
        checks
    )
    assert (
        checks[("dedup", "duplicate_request")]["dialogs"]
        == len(dialogs) + Counter(rejected["rejection_rule"])["duplicate_request"]
    )
    for stats in checks.values():
        assert stats["pass_rate"] == pytest.approx(stats["passed"] / stats["dialogs"])
    assert manifest["diversity"]["tools"] == 2 and manifest["diversity"]["dialogs"] == len(dialogs)


def test_the_same_api_listed_twice_is_built_once(scripted_llm, llm_config, tmp_path):
    scripted_llm.script = responders.toolforge
    run_dir = run_corpus(config(llm_config, tmp_path, "off", per_tool=1))
    rejected = table(run_dir, "rejected_tools")
    (row,) = rejected.to_dict("records")
    assert (row["tool_id"], row["step"], row["rule"]) == ("cat-facts-2", "dedup", "duplicate_tool")
    assert row["duplicate_of"] == "cat-facts"
    assert "'Cat Facts'" in row["reason"] and "cat-facts" in row["reason"]
    assert sorted(table(run_dir, "tools")["tool_id"]) == ["cat-facts", "dog-api"]
    assert not [r for r in manifest_of(run_dir)["llm"]["by_stage_role"] if r["role"] == "judge"]


def test_near_duplicate_requests_across_tools_are_dropped_once_the_run_is_filed(
    scripted_llm, llm_config, tmp_path
):
    def script(request: dict[str, Any]) -> Any:
        if responders.schema_name(request) == "InstructionBatch":  # each tool's first request: the same
            batch = responders.instruction_batch(request)
            batch["instructions"][0]["text"] = "Please find what you have on Lisbon museums for a trip today"
            return json.dumps(batch)
        return responders.toolforge(request)

    scripted_llm.script = script
    run_dir = run_corpus(config(llm_config, tmp_path, "flag", per_tool=3, dialog_mix={"single": 1}))
    dialogs, rejected = table(run_dir, "dialogs"), table(run_dir, "rejected_dialogs")
    duplicates = rejected[rejected["rejection_rule"] == "duplicate_request"]
    (row,) = duplicates.to_dict("records")
    assert row["dialog_id"] == "dog-api-1"  # the first by id stays: cat-facts-1
    assert "cat-facts-1" in row["rejection_reason"]
    assert row["verdicts"][-1]["check"] == "duplicate_request" and not row["verdicts"][-1]["passed"]
    assert "dog-api-1" not in set(dialogs["dialog_id"]) and "cat-facts-1" in set(dialogs["dialog_id"])
    rejection = table(run_dir, "rejections").query("step == 'dedup' and rule == 'duplicate_request'")
    assert list(rejection["item_id"]) == ["dog-api-1"]
    manifest = manifest_of(run_dir)
    (dedup,) = [c for c in manifest["checks"] if c["layer"] == "dedup"]
    assert (dedup["check"], dedup["dialogs"], dedup["passed"]) == (
        "duplicate_request",
        len(dialogs) + 1,
        len(dialogs),
    )
    for name, frame in (("dialogs", dialogs), ("rejected_dialogs", rejected)):
        info = manifest["artifacts"][name]
        assert info["rows"] == len(frame)
        for part in info["parts"]:  # the part written again is the one the manifest names
            data = (run_dir / part["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == part["sha256"]
