"""The assistant as a model trained on the corpus's ReAct text sees it: the prompt of the `react`
export, and the lenient reading of what the model writes back.

The prompt is the offered functions' documentation, the format to answer in and the user request
(after the earlier requests of a multi-turn dialogue, with their steps and answers), and it ends in a
newline: the completion starts there. A model answers with ToolAlpaca's steps:

Thought: ...
Action: getRecord
Action Input: {"recordId": "42"}
Observation: ...   (written by the tool, not the model: generation stops before it)
...
Final Answer: ...

`read_step` reads one such step leniently (extra text, a missing thought, JSON inside other words);
what it cannot read is an `UnparsedStep`, which an evaluation counts as ToolAlpaca's parse error. The
export (`tasks/exports/react.py`) and the evaluation (`tasks/evaluation/play.py`) share this module,
so a model is evaluated on exactly the prompt it was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.simulation import ASK_USER, FINISH, PARALLEL, AssistantTurn, PlannedCall

PROMPTS = Path(__file__).parent / "prompts"
SYSTEM = "You are an AI assistant that helps a user by calling the functions of the {name} API."
"""The system message of every exported dialogue (the OpenAI, HF and ShareGPT formats), and the
first line of the ReAct prompt."""
PROMPT = (PROMPTS / "react.txt").read_text(encoding="utf-8")
"""The ReAct prompt (`prompts/react.txt`, filled by `str.format`: `{name}`-style fields, braces
doubled): the system line, the functions, the format, the earlier turns and the request."""
KEYWORDS = ("Thought:", "Action:", "Action Input:", "Observation:", "Final Answer:")
STOP = ["Observation:"]
"""Where a model's step ends: the observation is the tool's to write."""


class UnparsedStep(ValueError):
    """A model's text that holds no readable step: no action and no final answer, or an action input
    that is not a JSON object."""


def react_prompt_text(
    name: str, documentation: str, functions: list[str], instruction: str, earlier: str = ""
) -> str:
    """The prompt for `instruction`, given the API's `name`, its functions' `documentation` and names,
    and the `earlier` turns of the conversation as ReAct text ("" for none)."""
    return PROMPT.format(
        system=SYSTEM.format(name=name),
        documentation=documentation,
        functions=", ".join(functions),
        ask=ASK_USER,
        earlier=f"\nEarlier in this conversation:\n{earlier}\n" if earlier else "",
        instruction=instruction,
    )


def parse_actions(text: str) -> list[tuple[str, str]]:
    """The (action, action input) pairs of ReAct text, in order: an action input runs on until a line
    that starts a step's part (`Observation:`, ...), and is "" when missing."""
    steps: list[tuple[str, list[str]]] = []
    collecting = False
    for line in text.splitlines():
        stripped = line.strip()
        if collecting and not stripped.startswith(KEYWORDS):
            steps[-1][1].append(line)
            continue
        collecting = False
        if stripped.startswith("Action Input:") and steps and not steps[-1][1]:
            steps[-1][1].append(stripped.removeprefix("Action Input:"))
            collecting = True
        elif stripped.startswith("Action:"):
            steps.append((stripped.removeprefix("Action:").strip(), []))
    return [(action, "\n".join(lines).strip()) for action, lines in steps]


def parse_input(text: str) -> Any:
    """An action input as JSON: the text itself, or the first JSON object in it; {} when neither."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    start = text.find("{")
    try:
        return json.JSONDecoder().raw_decode(text[start:])[0] if start >= 0 else {}
    except ValueError:
        return {}


def _strict_input(action: str, text: str) -> dict[str, Any]:
    """The input of one action as a JSON object (an empty input is `{}`); UnparsedStep otherwise."""
    if not text.strip():
        return {}
    value = parse_input(text)
    if not isinstance(value, dict) or (value == {} and "{" not in text):
        raise UnparsedStep(f"the Action Input of {action} is not a JSON object: {text[:120]!r}")
    return value


def _thought(text: str) -> str:
    """The thought before the first action or final answer ("" when the model wrote none)."""
    head = text
    for keyword in ("Action:", "Final Answer:"):
        head = head.split(keyword, 1)[0]
    return head.split("Thought:", 1)[-1].strip()


def read_step(text: str) -> AssistantTurn:
    """A model's step as the simulation's `AssistantTurn`: its first action (or, when it wrote several
    actions before any observation, all of them as one parallel step), or its final answer.

    Lenient as ToolAlpaca's parser is: text around the keywords is ignored, the action may be
    `getDetails(...)`-style noise around a name, and the input may be JSON within other words. An
    action written before a final answer wins (the answer came before the observation it needs)."""
    actions = [(action.split("(", 1)[0].strip().strip("`'\""), raw) for action, raw in parse_actions(text)]
    actions = [(action, raw) for action, raw in actions if action]
    thought = _thought(text)[:600]
    if not actions:
        if "Final Answer:" in text:
            answer = text.split("Final Answer:", 1)[1].strip()
            return AssistantTurn(thought=thought, action=FINISH, final_answer=answer[:1500])
        raise UnparsedStep(f"no Action and no Final Answer in {text.strip()[:160]!r}")
    if len(actions) == 1 or any(action == ASK_USER for action, _ in actions):
        action, raw = actions[0]
        return AssistantTurn(thought=thought, action=action, action_input=_strict_input(action, raw))
    calls = [PlannedCall(function=action, arguments=_strict_input(action, raw)) for action, raw in actions]
    return AssistantTurn(thought=thought, action=PARALLEL, calls=calls[:8])
