"""BFCL-style call accuracy: the Berkeley Function Calling Leaderboard's AST check of a model's calls
against a possible answer, and the possible answer a sequence of golden calls gives.

A possible answer (`GroundTruth`, BFCL's `ground_truth`) holds one `{function: {parameter: [allowed
values]}}` per expected call; `""` among a parameter's allowed values means it may be left out. An
object's allowed value has each field wrapped in a list of allowed values (so has each object of a
list of objects), as BFCL writes them. Functions take BFCL's type names (`dict` for objects, `float`
for numbers); `bfcl_function` converts an OpenAI tool (JSON Schema's `object` and `number`).

`check_calls` follows BFCL's `ast_checker` for Python (`bfcl/eval_checker/ast_eval/ast_checker.py`):
the same count of calls as the answer; then, order ignored, each call has the expected function's
name, every required parameter, none the function does not define or the answer does not name,
values of the parameter's type (an integer is accepted for a float, a boolean is no number) and equal
to an allowed value (strings standardised by `normalized`, lists element by element, objects field by
field), and leaves out only parameters whose allowed values hold `""`. Where it differs:

- simple, multiple and parallel are one rule; parallel calls are matched one to one by a maximum
  matching, where BFCL takes for each expected call the first call left that passes (and can miss a
  matching when one call fits two expected ones);
- types are checked at any depth (array items, an object's properties) and an integer passes for a
  float at any depth; BFCL checks one level of array items, and refuses `[1, 2]` for floats;
- strings are standardised at any depth; BFCL does so at the top, in lists and in an object's fields;
- a schema with no type (BFCL's `any`) accepts any value; BFCL reads `any` as a string;
- no "variable" leniency (BFCL accepts a value of the answer's type where it differs from the
  schema's: its answers are Python source, ours JSON values); names are compared as they are (BFCL
  turns dots into underscores for some models);
- every problem of a call is reported, not only the first; a function missing from `functions` is
  checked against the answer alone (no types, no required parameters), where BFCL fails;
- irrelevance (an empty answer) passes when no call is made; BFCL passes output that does not decode
  as calls, which `tasks/evaluation/bfcl_set.py` reads as no call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from schemas.dialog import ToolCall

GroundTruth = list[dict[str, dict[str, list[Any]]]]
"""BFCL's possible answer: per expected call, `{function: {parameter: [allowed values]}}`."""
Call = tuple[str, dict[str, Any]]
"""A call as checked: the function's name and its arguments."""
OPTIONAL = ""
"""The allowed value that lets a parameter be left out."""
TYPES = {"object": "dict", "number": "float"}
"""JSON Schema types BFCL names otherwise; string, integer, boolean and array keep their names."""
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "float": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "tuple": (list, tuple),
    "dict": (dict,),
}
"""BFCL's type names and the Python values that pass for each (an int passes for a float)."""
_TYPE_NAMES = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "dict"}
_STANDARDISED = re.compile(r"[ \,\.\/\-\_\*\^]")


class CallCheck(BaseModel):
    """The verdict of BFCL's AST check on one question: correct or not, and what was wrong."""

    correct: bool
    problems: list[str] = Field(
        default_factory=list,
        description="Short sentences naming the function and parameter, e.g. "
        "\"getWeather: city 'Paris' is not one of ['London']\".",
    )


def bfcl_schema(schema: Any) -> Any:
    """A JSON schema with BFCL's type names, through properties and items; a schema with no type is
    BFCL's `any`."""
    if not isinstance(schema, dict):
        return schema
    converted = dict(schema)
    kind = schema.get("type")
    if isinstance(kind, list):  # ["string", "null"]: the first that is not null
        kind = next((k for k in kind if k != "null"), "any")
    converted["type"] = TYPES.get(kind, kind) if isinstance(kind, str) else "any"
    if isinstance(schema.get("properties"), dict):
        converted["properties"] = {name: bfcl_schema(sub) for name, sub in schema["properties"].items()}
    if "items" in schema:
        converted["items"] = bfcl_schema(schema["items"])
    return converted


def bfcl_function(tool: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI tool (or a BFCL function: it is left as it is) as a BFCL function: name,
    description, and parameters as a `dict` schema."""
    function = tool.get("function", tool)
    parameters = bfcl_schema({"type": "object", **(function.get("parameters") or {})})
    parameters.setdefault("properties", {})
    parameters.setdefault("required", [])
    return {
        "name": function["name"],
        "description": function.get("description", ""),
        "parameters": parameters,
    }


def allowed_value(value: Any, schema: dict[str, Any]) -> Any:
    """A value as BFCL writes it in a possible answer: an object's fields each wrapped in a list (so
    is each object of a list of objects); an integer given for a float parameter, a float."""
    if isinstance(value, dict):
        return {key: [item] for key, item in value.items()}
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return [allowed_value(item, {}) for item in value]
    if schema.get("type") == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def call_ground_truth(
    name: str, arguments: Any, function: dict[str, Any] | None
) -> dict[str, dict[str, list[Any]]]:
    """One call as BFCL's `{function: {parameter: [allowed values]}}`: every parameter of the (BFCL)
    function, `""` allowed for an optional one left out or given its default."""
    arguments = arguments if isinstance(arguments, dict) else {}
    parameters = (function or {}).get("parameters") or {}
    properties: dict[str, Any] = parameters.get("properties") or {}
    required = set(parameters.get("required") or [])
    allowed: dict[str, list[Any]] = {}
    for parameter, value in arguments.items():
        schema = properties.get(parameter) or {}
        allowed[parameter] = [allowed_value(value, schema)]
        if parameter not in required and "default" in schema and value == schema["default"]:
            allowed[parameter].append(OPTIONAL)
    for parameter in properties:
        if parameter not in arguments and parameter not in required:
            allowed[parameter] = [OPTIONAL]
    return {name: allowed}


def ground_truth(call: ToolCall, function: dict[str, Any] | None) -> dict[str, dict[str, list[Any]]]:
    """A dialogue's call as BFCL's `{function: {parameter: [allowed values]}}` (`call_ground_truth`)."""
    return call_ground_truth(call.name, call.parsed_arguments(), function)


def ground_truth_of(calls: Sequence[Call], functions: Sequence[dict[str, Any]]) -> GroundTruth:
    """The possible answer golden calls give (the exporter's rule: `call_ground_truth`); `functions`
    are BFCL functions or OpenAI tools."""
    by_name = functions_by_name(functions)
    return [call_ground_truth(name, arguments, by_name.get(name)) for name, arguments in calls]


def functions_by_name(functions: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """BFCL functions or OpenAI tools as BFCL functions by name (the first of a name; none unnamed)."""
    found: dict[str, dict[str, Any]] = {}
    for tool in functions:
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found.setdefault(function["name"], bfcl_function(tool))
    return found


def normalized(value: Any) -> Any:
    """BFCL's string standardisation, at any depth: spaces and `,./-_*^` removed, lower case, single
    quotes made double (so `April 1, 2024` equals `april 1 2024`); other values as they are."""
    if isinstance(value, str):
        return _STANDARDISED.sub("", value).lower().replace("'", '"')
    if isinstance(value, list | tuple):
        return [normalized(item) for item in value]
    if isinstance(value, dict):
        return {key: normalized(item) for key, item in value.items()}
    return value


def check_calls(
    calls: Sequence[Call], ground_truth: GroundTruth, functions: Sequence[dict[str, Any]]
) -> CallCheck:
    """The model's calls against a possible answer (the module says the rule). When it fails, the
    problems are those of the best partial matching: the count, then for each expected call left
    unmatched the problems of the unmatched call nearest to it (same name, fewest problems, first),
    a call expected and not made, and each call left over."""
    made = list(calls)
    if not ground_truth:
        return CallCheck(
            correct=not made,
            problems=[f"{name}: called, but the request needs no call" for name, _ in made],
        )
    by_name = functions_by_name(functions)
    expected = [_expected(entry) for entry in ground_truth]
    table = [[_call_problems(call, answer, by_name) for answer in expected] for call in made]
    matched = _matching([[not problems for problems in row] for row in table])
    if len(made) == len(expected) and len(matched) == len(expected):
        return CallCheck(correct=True)
    problems = []
    if len(made) != len(expected):
        problems.append(f"wrong number of calls: {len(made)} made, {len(expected)} expected")
    left = [i for i in range(len(made)) if i not in matched]
    taken = set(matched.values())
    for j, (name, _) in enumerate(expected):
        if j in taken:
            continue
        if not left:
            problems.append(f"{name}: not called")
            continue
        nearest = min((made[i][0] != name, len(table[i][j]), i) for i in left)[2]
        problems += table[nearest][j]
        left.remove(nearest)
    problems += [f"{made[i][0]}: called where no such call was expected" for i in left]
    return CallCheck(correct=False, problems=problems)


def _expected(entry: dict[str, dict[str, list[Any]]]) -> tuple[str, dict[str, list[Any]]]:
    """An answer's function and allowed values (its first key, as BFCL reads it)."""
    for name, allowed in entry.items():
        return name, allowed if isinstance(allowed, dict) else {}
    return "", {}


def _matching(fits: list[list[bool]]) -> dict[int, int]:
    """A maximum one-to-one matching, call index -> answer index, of a table of which call fits
    which answer (Kuhn's augmenting paths, calls and answers in order: deterministic)."""
    owner: dict[int, int] = {}  # answer -> call

    def augment(call: int, seen: set[int]) -> bool:
        for answer, fits_it in enumerate(fits[call]):
            if fits_it and answer not in seen:
                seen.add(answer)
                if answer not in owner or augment(owner[answer], seen):
                    owner[answer] = call
                    return True
        return False

    for call in range(len(fits)):
        augment(call, set())
    return {call: answer for answer, call in owner.items()}


def _call_problems(
    call: Call, answer: tuple[str, dict[str, list[Any]]], functions: dict[str, dict[str, Any]]
) -> list[str]:
    """Every problem of one call against one expected call (BFCL's `simple_function_checker`)."""
    name, arguments = call
    expected_name, allowed = answer
    if name != expected_name:
        return [f"{name}: called where {expected_name} was expected"]
    if not isinstance(arguments, dict):
        return [f"{name}: the arguments are not an object"]
    function = functions.get(name)
    parameters = function["parameters"] if function else {}
    properties: dict[str, Any] = parameters.get("properties") or {}
    required = [p for p in parameters.get("required") or [] if isinstance(p, str)]
    problems = [f"{name}: required parameter '{p}' is missing" for p in required if p not in arguments]
    for parameter, value in arguments.items():
        if function is not None and parameter not in properties:
            problems.append(f"{name}: parameter '{parameter}' is not defined")
        elif parameter not in allowed:
            problems.append(f"{name}: parameter '{parameter}' is not expected")
        else:
            problem = _type_problem(value, properties.get(parameter), parameter) or _value_problem(
                value, allowed[parameter], parameter
            )
            if problem:
                problems.append(f"{name}: {problem}")
    for parameter, options in allowed.items():
        if parameter not in arguments and parameter not in required and OPTIONAL not in options:
            problems.append(f"{name}: parameter '{parameter}' is missing (expected one of {_shown(options)})")
    return problems


def _type_problem(value: Any, schema: Any, path: str) -> str | None:
    """What is wrong with a value's type under a BFCL schema, at any depth; None when nothing is."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    accepted = _PYTHON_TYPES.get(kind) if isinstance(kind, str) else None
    if accepted is None:  # any, or a type BFCL does not know
        return None
    if (isinstance(value, bool) and kind != "boolean") or not isinstance(value, accepted):
        return f"{path} should be {kind}, got {_type_name(value)} {value!r}"
    if kind in ("array", "tuple"):
        for index, item in enumerate(value):
            problem = _type_problem(item, schema.get("items"), f"{path}[{index}]")
            if problem:
                return problem
    if kind == "dict" and isinstance(schema.get("properties"), dict):
        for key, item in value.items():
            problem = _type_problem(item, schema["properties"].get(key), f"{path}.{key}")
            if problem:
                return problem
    return None


def _type_name(value: Any) -> str:
    return "null" if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)


def _value_problem(value: Any, allowed: list[Any], path: str) -> str | None:
    """What is wrong with a value against its allowed values; None when one of them fits."""
    if any(_fits(value, option) for option in allowed):
        return None
    options = [option for option in allowed if option != OPTIONAL]
    if not options:
        return f"{path} {value!r} is given where it should be left out"
    if len(options) == 1:
        detail = _structure_problem(value, options[0], path)
        if detail:
            return detail
    return f"{path} {value!r} is not one of {options!r}"


def _fits(value: Any, option: Any) -> bool:
    """Whether a value fits one allowed value: field by field for an object (or list of objects)
    written as BFCL writes one, else equal after `normalized`."""
    if _wrapped(option) or _wrapped_list(option):
        return _structure_problem(value, option, "") is None
    return _equal(value, option)


def _wrapped(option: Any) -> bool:
    """An object written as BFCL writes one: each field a list of allowed values."""
    return isinstance(option, dict) and all(isinstance(item, list) for item in option.values())


def _wrapped_list(option: Any) -> bool:
    return isinstance(option, list) and bool(option) and all(_wrapped(item) for item in option)


def _structure_problem(value: Any, option: Any, path: str) -> str | None:
    """What is wrong with an object (BFCL's `dict_checker`) or a list of objects (`list_dict_checker`:
    same length, in order) against a wrapped allowed value; None when it fits or is not wrapped."""
    if _wrapped_list(option):
        if not isinstance(value, list) or len(value) != len(option):
            return f"{path} {value!r} is not a list of {len(option)} objects like {option!r}"
        for index, (item, fields) in enumerate(zip(value, option, strict=True)):
            problem = _structure_problem(item, fields, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if not _wrapped(option):
        return None
    if not isinstance(value, dict):
        return f"{path} {value!r} is not an object like {option!r}"
    for key, item in value.items():
        if key not in option:
            return f"{path}.{key} is not an expected field"
        if not any(_equal(item, allowed) for allowed in option[key]):
            shown = [allowed for allowed in option[key] if allowed != OPTIONAL]
            return f"{path}.{key} {item!r} is not one of {shown!r}"
    for key, allowed in option.items():
        if key not in value and OPTIONAL not in allowed:
            return f"{path}.{key} is missing (expected one of {_shown(allowed)})"
    return None


def _equal(value: Any, option: Any) -> bool:
    """Equal after `normalized`, at any depth; a boolean equals only a boolean, 1 equals 1.0."""
    if isinstance(value, bool) or isinstance(option, bool):
        return isinstance(value, bool) and isinstance(option, bool) and value == option
    if isinstance(value, str) and isinstance(option, str):
        return normalized(value) == normalized(option)
    if isinstance(value, list | tuple) and isinstance(option, list | tuple):
        return len(value) == len(option) and all(_equal(a, b) for a, b in zip(value, option, strict=True))
    if isinstance(value, dict) and isinstance(option, dict):
        return value.keys() == option.keys() and all(_equal(value[key], option[key]) for key in value)
    if isinstance(value, str | list | tuple | dict) or isinstance(option, str | list | tuple | dict):
        return False
    return bool(value == option)


def _shown(options: list[Any]) -> str:
    return repr([option for option in options if option != OPTIONAL])
