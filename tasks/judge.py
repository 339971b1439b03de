"""The judge step: the model layer of verification, after the rules (ToolACE's dual layer).

Each dialogue the rule layer accepted gets the judge's four verdicts (`agents/judge/agent.py`), at
most one model call per dialogue (none when the cache has it). `--judge` says what they do:

- `flag`: the dialogue is kept whatever they say; they are recorded (the default with the
  embedded model, whose verdicts are noise);
- `filter`: a dialogue the judge fails is rejected by the first check it failed (the default with
  a hosted or served model);
- `off`: no judge call (the step is left out of the flow).

A judge answer that stays unusable after the gateway's repairs is the verdict `unjudged` (failed):
`filter` rejects the dialogue by it, `flag` keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.judge.agent import judge_dialog
from agents.llm.config import LLMConfig, is_local
from agents.llm.gateway import LLMGateway, StructuredOutputError, gateway_for
from schemas.dialog import Dialog
from schemas.verdict import JudgeMode, Verdict
from tasks.batch import Batch, batch_task, run_batch

STAGE = "judge"


def default_mode(llm: LLMConfig) -> JudgeMode:
    """`flag` when the judge is an in-process GGUF model (the embedded one), else `filter`."""
    return "flag" if is_local(llm.model_for("judge")) else "filter"


def judged(dialog: Dialog, gateway: LLMGateway, mode: JudgeMode) -> Dialog:
    """The dialogue with the judge's verdicts added; with `filter`, rejected by the first it failed."""
    try:
        verdicts = judge_dialog(gateway, dialog, STAGE)
    except StructuredOutputError as exc:
        verdicts = [Verdict(check="unjudged", layer="judge", passed=False, reason=f"judge: {exc}"[:1000])]
    update: dict[str, object] = {"verdicts": [*dialog.verdicts, *verdicts]}
    failed = next((v for v in verdicts if not v.passed), None)
    if mode == "filter" and failed is not None:
        update |= {"status": "rejected", "rejection_rule": failed.check, "rejection_reason": failed.reason}
    return dialog.model_copy(update=update)


def judge_batch(dialogs: Sequence[Dialog], gateway: LLMGateway, mode: JudgeMode) -> Batch[Dialog, Dialog]:
    """`judged` over a batch of accepted dialogues; one whose judge call failed for good is rejected
    (`llm_error`, or `task_failed` for a fault of the code)."""

    def failed(dialog: Dialog, reason: str, llm_failed: bool) -> Dialog:
        rule = "llm_error" if llm_failed else "task_failed"
        update = {"status": "rejected", "rejection_rule": rule, "rejection_reason": f"judge: {reason}"}
        return dialog.model_copy(update=update)

    return run_batch(dialogs, lambda dialog: judged(dialog, gateway, mode), failed)


@batch_task("judge", "judge-{dialogs[0].dialog_id}")
def judge_task(dialogs: list[Dialog], mode: JudgeMode, llm: LLMConfig, run_id: str) -> Batch[Dialog, Dialog]:
    """Prefect task: the judge's verdicts on a batch of dialogues."""
    return judge_batch(dialogs, gateway_for(llm, run_id), mode)
