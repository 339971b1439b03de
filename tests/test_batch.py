"""The one failure path of the batch steps (`tasks/batch.py`): an item whose work raises leaves its step
as that step's rejection (`llm_error` for a model call that failed for good, `task_failed` for the
code), and a batch whose task run died is filed by the same code, with the same outcomes."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable

import pytest

from agents.llm.errors import LLMCallError, ModelUnavailable
from agents.llm.usage import UsageLedger, current_ledger
from schemas.rejection import Rejection
from schemas.seed import Seed
from schemas.simulation import Instruction
from schemas.tool import RejectedTool, Tool
from tasks.batch import BatchStep, failure
from tasks.judge import JUDGE
from tasks.simulation import INSTRUCTIONS, ToolInstructions, simulation_step
from tasks.toolset import TOOLSET

KEY = "sk-abcdefghijklmnopqrstuvwx"
SEEDS = [
    Seed(seed_id=f"s{n}", name=f"API {n}", description="An API.", category="Tests", source="test")
    for n in range(3)
]


def raising(by_id: dict[str, Exception]) -> Callable[[Seed], Tool | RejectedTool]:
    """Work that raises the given error for a seed named in `by_id`, else rejects it as `openapi`."""

    def work(seed: Seed) -> Tool | RejectedTool:
        if seed.seed_id in by_id:
            raise by_id[seed.seed_id]
        return RejectedTool(
            tool_id=seed.seed_id,
            name=seed.name,
            category=seed.category,
            step="toolset",
            rule="openapi",
            reason="x",
        )

    return work


def test_an_item_whose_model_call_failed_is_an_llm_error_rejection_of_its_step():
    error = LLMCallError(f"RateLimitError after 2 attempt(s) with key {KEY}", transient=True)
    batch = TOOLSET.run(SEEDS, raising({"s1": error}))
    rejected = {outcome.tool_id: outcome for outcome in batch.outcomes}
    assert [item.seed_id for item, _ in batch.results] == ["s0", "s1", "s2"]
    failed = rejected["s1"]
    assert isinstance(failed, RejectedTool) and (failed.step, failed.rule) == ("toolset", "llm_error")
    assert failed.reason.startswith("LLMCallError: RateLimitError") and KEY not in failed.reason
    assert "[REDACTED]" in failed.reason
    assert failed.rejection == Rejection(item_id="s1", step="toolset", rule="llm_error", reason=failed.reason)
    assert {rejected[i].rule for i in ("s0", "s2")} == {"openapi"}  # the rest of the batch went on


def test_an_item_whose_code_failed_is_a_task_failed_rejection_of_its_step():
    batch = TOOLSET.run(SEEDS[:2], raising({"s0": KeyError("routes")}))
    failed = batch.outcomes[0]
    assert (failed.tool_id, failed.step, failed.rule) == ("s0", "toolset", "task_failed")
    assert failed.reason == "KeyError: 'routes'"


def test_a_stopped_model_leaves_the_item_unfinished_and_the_batch_stopped():
    stopped = ModelUnavailable("toolsmith", "m", "every recent call failed")
    batch = TOOLSET.run(SEEDS, raising({"s2": stopped}))
    assert batch.stopped is stopped and [item.seed_id for item, _ in batch.results] == ["s0", "s1"]
    assert TOOLSET.died(SEEDS, stopped).stopped is stopped and not TOOLSET.died(SEEDS, stopped).results


@pytest.mark.parametrize(
    "error",
    [LLMCallError(f"AuthenticationError: bad key {KEY}", transient=False), RuntimeError("worker lost")],
)
def test_a_dead_batch_is_filed_as_each_of_its_items_raising_would_be(error: Exception):
    """What the flow files for a task run that died (`died`) is what `run` gives when every item raises
    that error: the same records, the same rule, the same redacted reason."""
    dead = TOOLSET.died(SEEDS, error)
    each = TOOLSET.run(SEEDS, raising({seed.seed_id: error for seed in SEEDS}))
    assert dead.results == each.results
    expected = "llm_error" if isinstance(error, LLMCallError) else "task_failed"
    assert {(o.step, o.rule) for o in dead.outcomes} == {("toolset", expected)}
    assert all(KEY not in o.reason for o in dead.outcomes)


def test_each_step_makes_its_own_record_of_a_failure_with_the_shared_fields(tool: Tool):
    error = LLMCallError("the model is gone", transient=False)
    (instructions,) = INSTRUCTIONS.died([tool], error).outcomes
    assert isinstance(instructions, ToolInstructions) and instructions.instructions == []
    assert instructions.rejection == failure("instructions", "atlas", error)

    instruction = Instruction(
        instruction_id="atlas-1", tool_id="atlas", text="Find Lisbon.", style="command", functions=[]
    )
    (dialog,) = simulation_step(tool).died([instruction], RuntimeError("boom")).outcomes
    assert (dialog.dialog_id, dialog.status, dialog.ending) == ("atlas-1", "rejected", "not_simulated")
    assert dialog.rejection == Rejection(
        item_id="atlas-1", step="simulation", rule="task_failed", reason="RuntimeError: boom"
    )

    (judged,) = JUDGE.died([dialog.model_copy(update={"status": "accepted"})], error).outcomes
    assert judged.rejection is not None
    assert (judged.rejection.step, judged.rejection.rule) == ("judge", "llm_error")
    assert judged.rejection.reason == "judge: LLMCallError: the model is gone"


def test_a_step_is_data_its_name_an_items_id_and_its_record_of_a_rejection():
    step: BatchStep[str, Rejection] = BatchStep("checks", item_id=str.upper, rejected=lambda item, r: r)
    (rejection,) = step.run(["a"], lambda item: int(item)).outcomes  # type: ignore[arg-type,return-value]
    assert (rejection.item_id, rejection.step, rejection.rule) == ("A", "checks", "task_failed")
    assert rejection.reason.startswith("ValueError: invalid literal")


def test_a_batch_gives_each_items_model_calls_beside_their_sum():
    ledger = UsageLedger()

    def work(item: str) -> str:
        for _ in range(len(item)):  # an item's calls, some of them from a thread it starts
            thread = threading.Thread(
                target=contextvars.copy_context().run,
                args=(current_ledger(ledger).record_call, "toolset", "toolsmith", "m"),
                kwargs={"prompt_tokens": 10, "completion_tokens": 2, "cost_usd": 0.5, "seconds": 1.0},
            )
            thread.start()
            thread.join()
        return item

    step: BatchStep[str, str] = BatchStep("toolset", item_id=str.upper, rejected=lambda item, r: item)
    batch = step.run(["a", "bbb"], work)
    assert {key: [row.calls for row in rows] for key, rows in batch.usage_by_item.items()} == {
        "A": [1],
        "BBB": [3],
    }
    (total,) = batch.usage
    assert (total.calls, total.prompt_tokens, total.cost_usd, total.seconds) == (4, 40, 2.0, 4.0)
    assert ledger.summary().calls == 0  # the batch's calls are its own, not the gateway's ledger's
