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
from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway, StructuredOutputError, gateway_for
from schemas.dialog import Dialog
from schemas.verdict import JudgeMode, Verdict
from tasks.batch import Batch, batch_task, run_batch

STAGE = "judge"


def judged(dialog: Dialog, gateway: LLMGateway, mode: JudgeMode) -> Dialog:
    """The dialogue with the judge's verdicts added; with `filter`, rejected by the first it failed."""
    try:
        verdicts = judge_dialog(gateway, dialog, STAGE)
    except StructuredOutputError as exc:
        verdicts = [Verdict(check="unjudged", layer="judge", passed=False, reason=f"judge: {exc}"[:1000])]
    return dialog.with_verdicts(verdicts, reject=mode == "filter")


def failed_judgement(dialog: Dialog, reason: str, llm_failed: bool) -> Dialog:
    """A dialogue whose judge call failed for good (`llm_error`) or whose judging failed in the code
    or its task run (`task_failed`): rejected."""
    return dialog.rejected("llm_error" if llm_failed else "task_failed", f"judge: {reason}")


def judge_batch(dialogs: Sequence[Dialog], gateway: LLMGateway, mode: JudgeMode) -> Batch[Dialog, Dialog]:
    """`judged` over a batch of accepted dialogues (`failed_judgement` for one that raised)."""
    return run_batch(dialogs, lambda dialog: judged(dialog, gateway, mode), failed_judgement)


@batch_task("judge", "judge-{dialogs[0].dialog_id}")
def judge_task(dialogs: list[Dialog], mode: JudgeMode, llm: LLMConfig, run_id: str) -> Batch[Dialog, Dialog]:
    """Prefect task: the judge's verdicts on a batch of dialogues."""
    return judge_batch(dialogs, gateway_for(llm, run_id), mode)
