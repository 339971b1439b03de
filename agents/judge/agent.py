"""The judge: one structured call per dialogue, four verdicts (ToolACE's model layer of verification);
in an evaluation, one call per trajectory: process and response correctness (ToolAlpaca's).

`judge_dialog` shows the judge model the functions offered and the dialogue as a transcript, and
returns its verdicts (`schemas/verdict.JudgeVerdicts`: solvable, no hallucination, a consistent
answer, plausible tool responses), each with a reason. The call goes through the gateway like every
role's: cached (a re-run asks nothing again), retried, repaired, counted in the run's usage under
the role `judge`. The prompt is `prompts/judge.txt`.

`judge_trajectory` rates a model's solution in an evaluation (`tasks/evaluation/`): given the
functions' documentation, the request, the standard answer (golden actions) and the solution as ReAct
text, process and final-response correctness, each Yes, No or Uncertain, after a short analysis
(ToolAlpaca's criteria for its GPT-4 evaluation; `prompts/trajectory.txt`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agents.llm.gateway import LLMGateway, Tally
from agents.llm.prompts import PromptTemplate, load_prompt
from agents.llm.structured import bounded, compact_schema
from schemas.dialog import Dialog, Message
from schemas.evaluation import TrajectoryJudgement
from schemas.verdict import JudgeVerdicts, Verdict

ROLE = "judge"
PROMPTS = Path(__file__).parent / "prompts"
JUDGE_TOKENS = 700
"""Four verdicts with a sentence each, decoded to at most 200 characters a reason."""
RESULT_CHARS = 800
"""A tool result is shown up to this many characters (the judge needs its gist, not every record)."""


def judge_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "judge.txt")


def functions_text(tools: str) -> str:
    """The functions offered (OpenAI tools, JSON text) as one line each: name, description, parameters."""
    lines = []
    for tool in json.loads(tools):
        function: dict[str, Any] = tool.get("function", tool)
        parameters = json.dumps(function.get("parameters") or {}, ensure_ascii=False)
        lines.append(f"- {function.get('name')}: {function.get('description', '')} Parameters: {parameters}")
    return "\n".join(lines)


def transcript(messages: list[Message]) -> str:
    """The dialogue as the judge reads it: one line per message, calls with their arguments."""
    lines = []
    for message in messages:
        if message.role == "user":
            lines.append(f"User: {message.content}")
        elif message.role == "tool":
            body = message.content[:RESULT_CHARS] + ("…" if len(message.content) > RESULT_CHARS else "")
            call = f"{message.tool_call_id} ({message.name}, status {message.status_code})"
            lines.append(f"Result of {call}: {body}")
        elif message.tool_calls:
            calls = "; ".join(f"{c.id}: {c.name}({c.arguments})" for c in message.tool_calls)
            lines.append(f"Assistant calls {calls}")
        else:
            lines.append(f"Assistant{' (asks)' if message.clarification else ''}: {message.content}")
    return "\n".join(lines)


def judge_dialog(
    gateway: LLMGateway, dialog: Dialog, stage: str, tally: Tally | None = None
) -> list[Verdict]:
    """The judge's verdicts on one dialogue (one model call, or none when the cache has it)."""
    prompt = judge_prompt()
    messages = prompt.render(
        dialog_type=dialog.dialog_type,
        functions=functions_text(dialog.tools),
        transcript=transcript(dialog.messages),
    )
    answer = gateway.structured(
        stage=stage,
        role=ROLE,
        messages=messages,
        output=JudgeVerdicts,
        template=prompt.key,
        decoding_schema=bounded(compact_schema(JudgeVerdicts)),
        max_tokens=JUDGE_TOKENS,
        tally=tally,
    )
    return answer.verdicts()


TRAJECTORY_TOKENS = 500
"""A 600-character analysis and two verdicts."""


def trajectory_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "trajectory.txt")


def judge_trajectory(
    gateway: LLMGateway,
    documentation: str,
    instruction: str,
    standard: str,
    solution: str,
    stage: str,
    tally: Tally | None = None,
) -> TrajectoryJudgement:
    """The judge's process and response correctness of a model's solution (ReAct text) to a request,
    against the standard answer (golden actions), given the functions' documentation: ToolAlpaca's
    evaluation by GPT-4, on the `judge` role's model."""
    prompt = trajectory_prompt()
    messages = prompt.render(
        documentation=documentation, instruction=instruction, standard=standard, solution=solution
    )
    return gateway.structured(
        stage=stage,
        role=ROLE,
        messages=messages,
        output=TrajectoryJudgement,
        template=prompt.key,
        decoding_schema=bounded(compact_schema(TrajectoryJudgement)),
        max_tokens=TRAJECTORY_TOKENS,
        tally=tally,
    )
