"""The rule judge of an evaluation, no LLM: ToolAlpaca's six error kinds and BFCL's call accuracy.

Each error kind is a function of the case (its golden actions), the trajectory and the offered
functions, returning the problems it found (each a short sentence naming the call):
- `parse_error`: the model wrote text with no readable step (the play ended on it);
- `wrong_action`: a call of a function that is not offered or not in the golden answer, a call where
  the golden answer has none (a request no tool serves), or a golden function never called by a
  model that gave its final answer;
- `redundant_action`: a call that repeats an earlier answered call (same function, same arguments),
  or more answered calls of a function than the golden answer makes;
- `input_error`: a call of a golden function with wrong or missing arguments: refused by the
  function's schema (required, types, enums), or with values that match no golden call of that
  function, compared after BFCL's normalisation on the golden values the requests gave
  (`tasks/evaluation/golden.py`: values from results or replies are the grounding check's);
- `illusory_input`: an argument value from nowhere (`schemas/grounding.py`, the rule layer's check);
- `wrong_answer`: no final answer, or an empty one, for a request.

Call accuracy is BFCL's AST check (`schemas/call_accuracy.py`) of every call the model made against
the golden calls, order ignored, for the cases BFCL can score (`golden.scored_by_bfcl`); None for the
others.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from schemas.call_accuracy import CallCheck, check_calls, ground_truth_of, normalized
from schemas.calls import CallError, check_call
from schemas.dialog import Message, ToolCall, calls
from schemas.evaluation import ErrorFound, ErrorKind, EvalCase, EvalEnding, GoldenStep
from schemas.grounding import ungrounded_arguments
from schemas.react import ReactTurn, react_turns
from tasks.evaluation.golden import derived_paths, scored_by_bfcl

MAX_LISTED = 3
"""Problems named in one error's detail, at most (the count says how many there were)."""


class Offered:
    """The functions offered in a case: their OpenAI tools, parameters schemas and specs."""

    def __init__(self, tools: Sequence[dict[str, Any]], specs: dict[str, dict[str, Any]]) -> None:
        self.tools = list(tools)
        self.parameters = {t["function"]["name"]: t["function"].get("parameters") or {} for t in self.tools}
        self.specs = specs
        """function name -> the OpenAPI spec of the tool that has it."""


class Play:
    """A trajectory as the rules read it."""

    def __init__(self, messages: Sequence[Message], ending: EvalEnding, detail: str) -> None:
        self.messages, self.ending, self.detail = list(messages), ending, detail
        self.calls: list[ToolCall] = calls(messages)
        self.turns: list[ReactTurn] = react_turns(messages)
        self.status = {m.tool_call_id: m.status_code for m in messages if m.role == "tool"}

    def answered(self, call: ToolCall) -> bool:
        """Whether the call got a successful answer (2xx)."""
        status = self.status.get(call.id)
        return status is not None and 200 <= status < 300


def _canonical(arguments: Any) -> str:
    return json.dumps(arguments, sort_keys=True, ensure_ascii=False)


def parse_error(case: EvalCase, play: Play, offered: Offered) -> list[str]:
    return [play.detail or "no readable step"] if play.ending == "parse_error" else []


def wrong_action(case: EvalCase, play: Play, offered: Offered) -> list[str]:
    golden = {step.action for step in case.golden_calls()}
    made = [call.name for call in play.calls]
    problems = [
        f"{name} is not an offered function" for name in dict.fromkeys(made) if name not in offered.parameters
    ]
    if not golden:
        problems += [
            f"called {name} where the request needs no call"
            for name in dict.fromkeys(made)
            if name in offered.parameters
        ]
        return problems
    problems += [
        f"called {name}, which the golden answer does not use"
        for name in dict.fromkeys(made)
        if name in offered.parameters and name not in golden
    ]
    if play.ending == "final_answer":
        problems += [f"never called {name}" for name in sorted(golden) if name not in made]
    return problems


def redundant_action(case: EvalCase, play: Play, offered: Offered) -> list[str]:
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for call in play.calls:
        key = (call.name, _canonical(call.parsed_arguments()))
        if key in seen:
            problems.append(f"{call.id} repeats {call.name}({call.arguments}), answered before")
        if play.answered(call):
            seen.add(key)
    golden = Counter(step.action for step in case.golden_calls())
    answered = Counter(call.name for call in play.calls if play.answered(call))
    problems += [
        f"{count} answered calls of {name}; the golden answer makes {golden[name]}"
        for name, count in answered.items()
        if golden[name] and count > golden[name]
    ]
    return problems


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def same_value(made: Any, golden: Any) -> bool:
    """Whether the model's argument value equals the golden one: objects key by key and lists item by
    item; numbers as numbers (`"10"` equals `10`, `True` is no number); other values after BFCL's
    normalisation of their text (`April 1, 2024` equals `april 1 2024`)."""
    if isinstance(made, dict) and isinstance(golden, dict):
        return made.keys() == golden.keys() and all(same_value(made[key], golden[key]) for key in golden)
    if isinstance(made, list | tuple) and isinstance(golden, list | tuple):
        return len(made) == len(golden) and all(map(same_value, made, golden))
    a, b = _number(made), _number(golden)
    if a is not None and b is not None:
        return a == b
    return normalized(str(made)) == normalized(str(golden))


def value_differences(
    function: str, values: dict[str, Any], wanted: dict[str, Any], source: str
) -> list[str]:
    """Where a call of `function` (its `values` by name or path) does not hold the `wanted` ones: each
    one it leaves out or gives otherwise (`same_value`), saying what `source` (`golden`, `the request
    says`) has."""
    return [
        f"{function}: {path}={values[path]!r}, {source} {value!r}"
        if path in values
        else f"{function} leaves out {path} ({source} {value!r})"
        for path, value in wanted.items()
        if path not in values or not same_value(values[path], value)
    ]


def _value_problems(case: EvalCase, call: ToolCall, goldens: list[GoldenStep], parameters: dict) -> list[str]:
    """Why the call's values match none of the golden calls of its function ([] when one matches)."""
    arguments = call.parsed_arguments()
    arguments = arguments if isinstance(arguments, dict) else {}
    best: list[str] | None = None
    for golden in goldens:
        derived = set(derived_paths(case, golden, parameters))
        wanted = {
            name: value
            for name, value in golden.arguments().items()
            if name not in derived and not any(path.startswith((f"{name}.", f"{name}[")) for path in derived)
        }
        problems = value_differences(call.name, arguments, wanted, "golden")
        if not problems:
            return []
        if best is None or len(problems) < len(best):
            best = problems
    return best or []


def input_error(case: EvalCase, play: Play, offered: Offered) -> list[str]:
    goldens: dict[str, list[GoldenStep]] = {}
    for step in case.golden_calls():
        goldens.setdefault(step.action, []).append(step)
    problems: list[str] = []
    for call in play.calls:
        if call.name not in goldens or call.name not in offered.specs:
            continue  # a wrong action, not an input error
        try:
            check_call(offered.specs[call.name], call.name, call.arguments)
        except CallError as exc:
            problems.append(str(exc))
            continue
        problems += _value_problems(case, call, goldens[call.name], offered.parameters[call.name])
    return problems


def illusory_input(case: EvalCase, play: Play, offered: Offered) -> list[str]:
    found = ungrounded_arguments(play.messages, offered.parameters)
    return [f"{name}({path}={value!r}) {why}" for name, path, value, why in found]


def wrong_answer(case: EvalCase, play: Play, offered: Offered) -> list[str]:
    if play.ending != "final_answer":
        return [
            f"no final answer ({play.ending}: {play.detail})"
            if play.detail
            else f"no final answer ({play.ending})"
        ]
    empty = [n for n, turn in enumerate(play.turns, 1) if not (turn.final_answer or "").strip()]
    return [f"an empty final answer to request {n}" for n in empty]


ERROR_RULES: dict[ErrorKind, Callable[[EvalCase, Play, Offered], list[str]]] = {
    "parse_error": parse_error,
    "wrong_action": wrong_action,
    "redundant_action": redundant_action,
    "input_error": input_error,
    "illusory_input": illusory_input,
    "wrong_answer": wrong_answer,
}
"""The error kinds, in ToolAlpaca's order, and the rule that finds each."""


def listed(problems: list[str]) -> str:
    """The problems, the first `MAX_LISTED` named and the rest counted."""
    shown = "; ".join(problems[:MAX_LISTED])
    return shown + (f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else "")


def find_errors(case: EvalCase, play: Play, offered: Offered) -> list[ErrorFound]:
    """Every error kind the trajectory shows, with what shows it."""
    found = []
    for kind, rule in ERROR_RULES.items():
        problems = rule(case, play, offered)
        if problems:
            found.append(ErrorFound(kind=kind, detail=listed(problems)))
    return found


def call_accuracy(case: EvalCase, play: Play, offered: Offered) -> CallCheck | None:
    """BFCL's AST check of the calls made against the golden ones; None where BFCL cannot score the case."""
    if not scored_by_bfcl(case, offered.parameters):
        return None
    golden = [(step.action, step.arguments()) for step in case.golden_calls()]
    made = [
        (call.name, args if isinstance(args := call.parsed_arguments(), dict) else {}) for call in play.calls
    ]
    return check_calls(made, ground_truth_of(golden, offered.tools), offered.tools)


def golden_text(case: EvalCase) -> str:
    """The golden actions as ToolAlpaca writes its standard answer: per request, its steps."""
    parts = []
    for number, turn in enumerate(case.turns, 1):
        steps = "\n".join(f"Action: {s.action}\nAction Input: {s.action_input}" for s in turn.steps)
        head = f"Request {number}: {turn.request}\n" if len(case.turns) > 1 else ""
        parts.append(head + (steps or "(no action: answered without a call)"))
    return "\n\n".join(parts)
