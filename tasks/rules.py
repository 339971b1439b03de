"""The rule layer: checks a program can make of one dialogue, each a named rule with a reason.

A rule looks at one dialogue record (nothing else: it holds its messages and the tools offered) and
returns why it fails, or None. `RULES` lists them in the order a rejection names the first failed:
how the simulation ended, the shape of the dialogue's type (`schemas/dialog_shape.py`), then the
record's own soundness, in ToolACE's terms:

- *definition* (`bad_definition`): every offered function has a description, typed parameters and
  its required ones listed;
- *executability* (`not_executable`): every call names an offered function and its arguments are
  valid for its parameters' schema (required ones, types, enums, formats);
- *grounding* (`ungrounded_argument`): every argument value was given before the call
  (`schemas/grounding.py`);
- *dialogue correctness* (`unanswered_call`, `no_final_answer` and the shape rules): every call
  answered once, every answer to a call made before it, a non-empty final answer;
- *consistency* (`inconsistent_record`): the counts and lists stored with the dialogue agree with
  its messages;
- *quality* (`content_free_request`, `degenerate_repetition`, `echo`, `ignored_tool_results`): no
  degenerate text, model-free (`tasks/quality_rules.py`, thresholds in its `QualitySettings`).

Another rule is a function here and a line in `RULES`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from schemas import dialog_shape
from schemas.complexity import band, complexity_score, dependency_depth
from schemas.dialog import Dialog, RejectionRule, calls
from schemas.grounding import ungrounded_arguments
from schemas.react import react_turns
from tasks.offered import offered_functions
from tasks.quality_rules import QualitySettings, quality_rules

Rule = Callable[[Dialog], str | None]
MAX_LISTED = 3
"""Problems named in one reason, at most (the count says how many there were)."""


def too_many_steps(dialog: Dialog) -> str | None:
    """The assistant wanted more actions than the step limit allows."""
    return dialog.ending_detail if dialog.ending == "step_limit" else None


def unparseable_output(dialog: Dialog) -> str | None:
    """The assistant's (or the user's) answer stayed unusable after the allowed repairs."""
    return dialog.ending_detail if dialog.ending == "assistant_unusable" else None


def invalid_observation(dialog: Dialog) -> str | None:
    """The simulated API's answer stayed invalid for the spec after the allowed repairs."""
    return dialog.ending_detail if dialog.ending == "executor_unusable" else None


def no_function_call(dialog: Dialog) -> str | None:
    """A dialogue made to use the tool called none of its functions (a clarifying question alone does
    not count)."""
    return None if dialog.dialog_type == "non_tool" else dialog_shape.no_call(dialog.messages)


def not_parallel(dialog: Dialog) -> str | None:
    """A parallel dialogue made no assistant message with several calls."""
    return dialog_shape.not_parallel(dialog.messages) if dialog.dialog_type == "parallel" else None


def not_dependent(dialog: Dialog) -> str | None:
    """A dependent dialogue made no call with a value from an earlier result (one the user gave, or
    that the assistant made up, does not count)."""
    return dialog_shape.not_dependent(dialog.messages) if dialog.dialog_type == "dependent" else None


def not_multi_turn(dialog: Dialog) -> str | None:
    """A multi-turn dialogue with fewer than 2 follow-up requests."""
    if dialog.dialog_type != "multi_turn" or dialog.turns >= dialog_shape.MIN_TURNS:
        return None
    return (
        f"a multi_turn dialogue has at least {dialog_shape.MIN_TURNS} user requests; "
        f"this one has {dialog.turns}"
    )


def tool_called_in_non_tool(dialog: Dialog) -> str | None:
    """A dialogue whose request needs no tool called one."""
    if dialog.dialog_type != "non_tool" or not dialog.functions_used:
        return None
    called = ", ".join(dialog.functions_used)
    return f"a non_tool dialogue is answered without a call; the assistant called {called}"


def no_final_answer(dialog: Dialog) -> str | None:
    """The dialogue ended without a final answer (the protocol left the assistant no move), or with
    an empty one, or an earlier request of a multi-turn dialogue got an empty one."""
    if dialog.ending == "no_move_left":
        return dialog.ending_detail
    if not dialog.final_answer.strip():
        return "the final answer is empty"
    turns = react_turns(dialog.messages)
    empty = [n for n, turn in enumerate(turns[:-1], 1) if not (turn.final_answer or "").strip()]
    return f"the final answer to request {empty[0]} of {len(turns)} is empty" if empty else None


def _listed(problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_LISTED])
    return shown + (f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else "")


def bad_definition(dialog: Dialog) -> str | None:
    """An offered function lacks a description, a parameter lacks a type, or the required parameters
    are not listed (or list one that does not exist)."""
    problems = []
    for name, function in offered_functions(dialog.tools).items():
        if not str(function.get("description") or "").strip():
            problems.append(f"function {name} has no description")
        parameters = function.get("parameters")
        if not isinstance(parameters, dict) or parameters.get("type") != "object":
            problems.append(f"function {name}: its parameters are not an object schema")
            continue
        properties = parameters.get("properties") or {}
        required = parameters.get("required")
        if not isinstance(required, list):
            problems.append(f"function {name} does not list its required parameters")
        elif unknown := [r for r in required if r not in properties]:
            problems.append(
                f"function {name} requires {', '.join(map(str, unknown))}, which it does not define"
            )
        for param, schema in properties.items():
            typed = isinstance(schema, dict) and any(
                k in schema for k in ("type", "enum", "anyOf", "oneOf", "allOf")
            )
            if not typed:
                problems.append(f"parameter {param} of {name} has no type")
    return _listed(problems) if problems else None


@lru_cache(maxsize=1024)
def _validator(tools: str, name: str) -> Draft202012Validator:
    schema = offered_functions(tools)[name].get("parameters") or {}
    return Draft202012Validator(schema, format_checker=FormatChecker())


def not_executable(dialog: Dialog) -> str | None:
    """A call names no offered function, or its arguments are not a JSON object valid for the
    function's parameters (required ones, types, enums, formats): the executor's checks, on the
    record. The training data shows only calls a real API would take."""
    offered, problems = offered_functions(dialog.tools), []
    for call in calls(dialog.messages):
        if call.name not in offered:
            problems.append(f"{call.id} calls {call.name}, which is not offered")
            continue
        try:
            arguments = json.loads(call.arguments)
        except ValueError:
            problems.append(f"{call.id} ({call.name}): its arguments are not JSON")
            continue
        if not isinstance(arguments, dict):
            problems.append(f"{call.id} ({call.name}): its arguments are not an object")
            continue
        for error in sorted(_validator(dialog.tools, call.name).iter_errors(arguments), key=str)[:1]:
            where = ".".join(str(p) for p in error.absolute_path) or "arguments"
            problems.append(f"{call.id} ({call.name}): {where}: {error.message}")
    return _listed(problems) if problems else None


def ungrounded_argument(dialog: Dialog) -> str | None:
    """A call's argument value that no user message, earlier tool result, default or enum gave (ToolAlpaca's
    illusory input), or a placeholder."""
    parameters = {name: f.get("parameters") or {} for name, f in offered_functions(dialog.tools).items()}
    found = ungrounded_arguments(dialog.messages, parameters)
    problems = [f"{name}({path}={value!r}) {why}" for name, path, value, why in found]
    return _listed(problems) if problems else None


def unanswered_call(dialog: Dialog) -> str | None:
    """A call with no tool answer before the next assistant message, a call id used twice, or a tool
    answer to no call made before it."""
    problems, open_ids, seen = [], [], set()
    for message in dialog.messages:
        if message.role == "assistant":
            problems += [f"{call_id} was not answered" for call_id in open_ids]
            open_ids = []
            for call in message.tool_calls:
                if call.id in seen:
                    problems.append(f"call id {call.id} is used twice")
                seen.add(call.id)
                open_ids.append(call.id)
        elif message.role == "tool":
            if message.tool_call_id in open_ids:
                open_ids.remove(message.tool_call_id)
            else:
                problems.append(f"a tool answer to {message.tool_call_id or 'no id'}, which no open call has")
    problems += [f"{call_id} was not answered" for call_id in open_ids]
    return _listed(problems) if problems else None


def inconsistent_record(dialog: Dialog) -> str | None:
    """A count or list stored with the dialogue that its messages (and tools) do not give."""
    messages = dialog.messages
    user_messages = [m.content for m in messages if m.role == "user"]
    answers = [m.content for m in messages if m.role == "assistant" and not m.tool_calls]
    expected: dict[str, Any] = {
        **Dialog.counted(messages),
        "functions_offered": len(offered_functions(dialog.tools)),
        "dependency_depth": dependency_depth(messages),
        "instruction": user_messages[0] if user_messages else "",
        "final_answer": answers[-1] if answers and messages[-1].role == "assistant" else "",
    }
    expected["complexity"] = complexity_score(messages, expected["functions_offered"])
    expected["complexity_band"] = band(expected["complexity"])
    problems = [
        f"{name} is {getattr(dialog, name)!r}, its messages give {value!r}"
        for name, value in expected.items()
        if getattr(dialog, name) != value
    ]
    if dialog.tool_id not in dialog.tool_ids:
        problems.append(f"tool {dialog.tool_id} is not among the tools offered {dialog.tool_ids}")
    return _listed(problems) if problems else None


SOUNDNESS_RULES: list[tuple[RejectionRule, Rule]] = [
    ("too_many_steps", too_many_steps),
    ("unparseable_output", unparseable_output),
    ("invalid_observation", invalid_observation),
    ("no_function_call", no_function_call),
    ("not_parallel", not_parallel),
    ("not_dependent", not_dependent),
    ("tool_called_in_non_tool", tool_called_in_non_tool),
    ("not_multi_turn", not_multi_turn),
    ("no_final_answer", no_final_answer),
    ("unanswered_call", unanswered_call),
    ("bad_definition", bad_definition),
    ("not_executable", not_executable),
    ("ungrounded_argument", ungrounded_argument),
    ("inconsistent_record", inconsistent_record),
]
"""The rules of the simulation's ending, the type's shape and the record's soundness, in order."""


def rules_for(settings: QualitySettings) -> list[tuple[RejectionRule, Rule]]:
    """The rule layer with the quality rules' thresholds of `settings`, in the order a rejection
    names the first rule failed."""
    return [*SOUNDNESS_RULES, *quality_rules(settings)]


RULES = rules_for(QualitySettings())
"""The rule layer with the default thresholds."""
