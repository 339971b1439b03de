"""One rejection vocabulary (`schemas/rejection.py`): every record of an item that left a step without
an output names the same step, rule and reason, and what was written before it reads into it."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.dialog import Dialog, Message
from schemas.evaluation import EvaluationManifest, rejected_case
from schemas.pool import RejectedAPI
from schemas.rejection import Rejection
from schemas.statistics import RejectionCount
from schemas.tool import RejectedTool
from schemas.verdict import Verdict


def dialog(**fields: object) -> Dialog:
    message = Message(role="user", content="Find Lisbon.")
    return Dialog.model_validate(
        {
            "dialog_id": "atlas-1", "tool_id": "atlas", "instruction": "Find Lisbon.", "messages": [message],
            "tools": "[]", "tool_ids": ["atlas"], "final_answer": "", **Dialog.counted([message]),
            "llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "status": "accepted", **fields,
        }
    )  # fmt: skip


def test_tools_apis_dialogues_and_cases_name_their_rejection_with_the_same_fields():
    tool = RejectedTool(
        tool_id="dog",
        name="Dog",
        category="Pets",
        step="dedup",
        rule="duplicate_tool",
        reason="r",
        duplicate_of="a",
    )
    api = RejectedAPI(
        api_id="pool-000002",
        index=2,
        generation=0,
        domain="Geo",
        rule="duplicate_api",
        reason="r",
        duplicate_of="x",
    )
    rejected = dialog().rejected("judge", "hallucination", "made up")
    case = rejected_case("joke-1", "invalid_case", "no golden answer")
    assert tool.rejection == Rejection(
        item_id="dog", step="dedup", rule="duplicate_tool", reason="r", duplicate_of="a"
    )
    assert (api.rejection.item_id, api.rejection.step, api.rejection.duplicate_of) == (
        "pool-000002",
        "pool",
        "x",
    )
    assert rejected.rejection == Rejection(
        item_id="atlas-1", step="judge", rule="hallucination", reason="made up"
    )
    assert (case.item_id, case.step, case.rule) == ("joke-1", "eval_set", "invalid_case")
    assert dialog().rejection is None


def test_a_failed_verdict_rejects_a_dialogue_at_the_step_of_its_layer():
    failed = Verdict(check="not_executable", layer="rules", passed=False, reason="no such function")
    assert dialog().with_verdicts([failed]).rejection == Rejection(
        item_id="atlas-1", step="checks", rule="not_executable", reason="no such function"
    )
    dropped = Verdict(check="duplicate_request", layer="dedup", passed=False, reason="of atlas-0")
    assert dialog().with_verdicts([dropped]).rejection_step == "dedup"
    assert dialog().with_verdicts([failed], reject=False).rejection is None


def test_a_rejected_dialogue_written_without_its_step_reads_the_step_that_filed_it():
    judged = Verdict(check="hallucination", layer="judge", passed=False, reason="made up")
    rejected = {"status": "rejected", "rejection_reason": "why"}
    assert dialog(**rejected, rejection_rule="hallucination", verdicts=[judged]).rejection_step == "judge"
    assert (
        dialog(**rejected, rejection_rule="llm_error", ending="not_simulated").rejection_step == "simulation"
    )
    assert dialog(**rejected, rejection_rule="task_failed").rejection_step == "judge"


def test_manifests_written_before_read_into_the_vocabulary():
    old = RejectionCount.model_validate({"stage": "toolset", "rule": "llm", "count": 3})
    assert old == RejectionCount(step="toolset", rule="llm_error", count=3)
    evaluation = EvaluationManifest(
        eval_id="e", status="completed", created=datetime(2026, 1, 1, tzinfo=UTC), models=["m"],
        prompt_format="react", source="run", source_kind="run", source_sha256="0" * 64, cases=1,
        rejected_cases=[
            {"case_id": "joke-5", "reason": "instruction 5 has no golden answer"},
            {"case_id": "fx-1", "reason": "tool 'FX': its spec fails the OpenAPI validator"},
            {"case_id": "d-9", "reason": "offers tools with no record in the run: weather"},
        ],
    )  # fmt: skip
    assert [(r.item_id, r.step, r.rule) for r in evaluation.rejected_cases] == [
        ("joke-5", "eval_set", "invalid_case"),
        ("fx-1", "eval_set", "invalid_tool"),
        ("d-9", "eval_set", "unknown_tool"),
    ]
    assert evaluation.rejected_cases[0].reason == "instruction 5 has no golden answer"
    again = EvaluationManifest.model_validate_json(evaluation.model_dump_json())
    assert again.rejected_cases == evaluation.rejected_cases
