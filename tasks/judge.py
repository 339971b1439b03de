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

from agents.judge.agent import judge_dialog
from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway, StructuredOutputError, gateway_for
from schemas.dialog import Dialog
from schemas.verdict import JudgeMode, Verdict
from tasks.batch import Batch, BatchStep, batch_task

STAGE = "judge"


def judged(dialog: Dialog, gateway: LLMGateway, mode: JudgeMode) -> Dialog:
    """The dialogue with the judge's verdicts added; with `filter`, rejected by the first it failed."""
    try:
        verdicts = judge_dialog(gateway, dialog, STAGE)
    except StructuredOutputError as exc:
        verdicts = [Verdict(check="unjudged", layer="judge", passed=False, reason=f"judge: {exc}"[:1000])]
    return dialog.with_verdicts(verdicts, reject=mode == "filter")


JUDGE: BatchStep[Dialog, Dialog] = BatchStep(
    "judge",
    item_id=lambda dialog: dialog.dialog_id,
    rejected=lambda dialog, rejection: dialog.rejected("judge", rejection.rule, f"judge: {rejection.reason}"),
)
"""A dialogue whose judge call failed for good (`llm_error`), or whose judging failed in the code or
its task run (`task_failed`), is rejected."""


@batch_task("judge", "judge-{dialogs[0].dialog_id}")
def judge_task(dialogs: list[Dialog], mode: JudgeMode, llm: LLMConfig, run_id: str) -> Batch[Dialog, Dialog]:
    """Prefect task: the judge's verdicts on a batch of dialogues."""
    gateway = gateway_for(llm, run_id)
    return JUDGE.run(dialogs, lambda dialog: judged(dialog, gateway, mode))
