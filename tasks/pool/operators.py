"""ToolACE's diversity operators: each one change that pushes a new API away from the ones before it.

An operator is a line in `OPERATORS`: the instruction the LLM gets, the change it answers with (a
model of `schemas.pool`, whose decoding schema names only the API's own functions and parameters),
whether it can apply to an API at all, how the change is applied, and how to see that it was. The
change is checked by applying it: an API that would not validate is told back to the LLM.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from agents.llm.structured import compact_schema
from agents.toolsmith.pool import for_decoding
from schemas.pool import Constraint, NestedParameter, NewFunction, NewParameter, NewReturn, Operator
from schemas.tool import FieldDoc, FunctionCatalog, FunctionDoc, ParameterDoc


def _max_length(model: type[BaseModel], field: str) -> int:
    """A list field's `max_length`, as the model declares it."""
    return next(m.max_length for m in model.model_fields[field].metadata if hasattr(m, "max_length"))


MAX_FUNCTIONS = _max_length(FunctionCatalog, "functions")
MAX_PARAMETERS = _max_length(FunctionDoc, "parameters")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
Functions = list[FunctionDoc]


@dataclass(frozen=True)
class OperatorSpec:
    """One diversity operator."""

    name: Operator
    instruction: str
    change: type[BaseModel]
    applies: Callable[[Functions], bool]
    apply: Callable[[Functions, Any], Functions]
    """The functions with the change made (new objects; ValueError naming what is wrong)."""
    shows: Callable[[Functions, Functions], bool]
    """Whether the functions after show the change, compared with the functions before."""
    choices: Callable[[Functions], dict[str, list[str]]]
    """The names the change may refer to: its decoding schema's enums, by field."""


def _function(functions: Functions, name: str) -> int:
    for index, function in enumerate(functions):
        if function.name == name:
            return index
    raise ValueError(f"the API has no function {name!r}; choose one of {[f.name for f in functions]}")


def _replaced(functions: Functions, index: int, function: FunctionDoc) -> Functions:
    """The functions with one replaced, validated as a whole (distinct names and routes)."""
    changed = [*functions[:index], function, *functions[index + 1 :]]
    return FunctionCatalog(functions=changed).functions


def _with_parameter(function: FunctionDoc, parameter: ParameterDoc) -> FunctionDoc:
    if len(function.parameters) >= MAX_PARAMETERS:
        raise ValueError(f"{function.name} has {MAX_PARAMETERS} parameters already: choose another function")
    if parameter.location == "path":
        raise ValueError("a new parameter cannot go in the path: use query or body")
    return FunctionDoc.model_validate(
        {**function.model_dump(), "parameters": [*function.parameters, parameter]}
    )


def _nested(param: ParameterDoc | FieldDoc) -> bool:
    if isinstance(param, ParameterDoc):
        return bool(param.properties)
    return bool(param.fields)


def _constrained(param: ParameterDoc) -> bool:
    return bool(param.enum or param.minimum is not None or param.maximum is not None or param.format)


def _open_parameters(functions: Functions) -> list[str]:
    """`function.parameter` of each parameter that can take a constraint and has none."""
    return [
        f"{f.name}.{p.name}"
        for f in functions
        for p in f.parameters
        if p.type in {"string", "integer", "number"} and not _constrained(p)
    ]


# -- the operators ------------------------------------------------------------------------------------


def add_function(functions: Functions, change: NewFunction) -> Functions:
    if len(functions) >= MAX_FUNCTIONS:
        raise ValueError(f"the API has {MAX_FUNCTIONS} functions already")
    return FunctionCatalog(functions=[*functions, change.function]).functions


def add_parameter(functions: Functions, change: NewParameter) -> Functions:
    index = _function(functions, change.function)
    return _replaced(functions, index, _with_parameter(functions[index], change.parameter))


def add_constraint(functions: Functions, change: Constraint) -> Functions:
    index = _function(functions, change.function)
    function = functions[index]
    params = {p.name: p for p in function.parameters}
    if change.parameter not in params:
        raise ValueError(f"{function.name} has no parameter {change.parameter!r}; it has {sorted(params)}")
    param = params[change.parameter]
    if _constrained(param):
        raise ValueError(
            f"{change.parameter} is constrained already: choose one of {_open_parameters(functions)}"
        )
    given = {
        "enum": change.enum,
        "minimum": change.minimum,
        "maximum": change.maximum,
        "format": change.format,
    }
    given = {k: v for k, v in given.items() if v not in (None, [])}
    if not given:
        raise ValueError("give allowed values (enum), a range (minimum, maximum) or a format")
    updated = ParameterDoc.model_validate({**param.model_dump(), **given})  # the type must allow it
    parameters = [updated if p.name == param.name else p for p in function.parameters]
    return _replaced(functions, index, function.model_copy(update={"parameters": parameters}))


def nest_parameter(functions: Functions, change: NestedParameter) -> Functions:
    index = _function(functions, change.function)
    function = functions[index]
    parameter = ParameterDoc(
        name=change.name,
        location="body" if function.method in BODY_METHODS else "query",
        type="object" if change.container == "object" else "array",
        items_type="object" if change.container == "array" else None,
        description=change.description,
        required=change.required,
        properties=change.properties,
    )
    return _replaced(functions, index, _with_parameter(function, parameter))


def change_return(functions: Functions, change: NewReturn) -> Functions:
    index = _function(functions, change.function)
    nested = FieldDoc(
        name=change.nested.name,
        type="object" if change.nested.container == "object" else "array",
        items_type="object" if change.nested.container == "array" else None,
        description=change.nested.description,
        fields=change.nested.fields,
    )
    fields = [nested, *(f for f in change.fields if f.name != nested.name)]
    function = FunctionDoc.model_validate(
        {
            **functions[index].model_dump(),
            "response_media_type": "application/json",
            "response_description": change.response_description,
            "response_fields": [f.model_dump() for f in fields],
        }
    )
    return _replaced(functions, index, function)


def _parameters(functions: Functions) -> list[ParameterDoc]:
    return [p for f in functions for p in f.parameters]


def _fields(functions: Functions) -> list[FieldDoc]:
    return [field for f in functions for field in f.response_fields]


def _names(functions: Functions) -> dict[str, list[str]]:
    return {"function": [f.name for f in functions]}


def _roomy(functions: Functions) -> dict[str, list[str]]:
    return {"function": [f.name for f in functions if len(f.parameters) < MAX_PARAMETERS]}


def _constraint_choices(functions: Functions) -> dict[str, list[str]]:
    open_ = [pair.split(".") for pair in _open_parameters(functions)]
    return {"function": sorted({f for f, _ in open_}), "parameter": sorted({p for _, p in open_})}


OPERATORS: dict[Operator, OperatorSpec] = {
    spec.name: spec
    for spec in (
        OperatorSpec(
            "add_function",
            "Add one function that serves a need none of these functions serves, with its own path.",
            NewFunction,
            applies=lambda fs: len(fs) < MAX_FUNCTIONS,
            apply=add_function,
            shows=lambda before, after: len(after) == len(before) + 1,
            choices=lambda fs: {},
        ),
        OperatorSpec(
            "add_parameter",
            "Add one optional input (query or body) to one of these functions: a filter, a sort order, "
            "a language, a unit or a page size that a developer would expect.",
            NewParameter,
            applies=lambda fs: bool(_roomy(fs)["function"]),
            apply=add_parameter,
            shows=lambda before, after: len(_parameters(after)) == len(_parameters(before)) + 1,
            choices=_roomy,
        ),
        OperatorSpec(
            "add_constraint",
            "Constrain one input of one of these functions: its allowed values (enum), a range "
            "(minimum, maximum) for a number, or a format (date, date-time, email, uri, uuid) for a string.",
            Constraint,
            applies=lambda fs: bool(_open_parameters(fs)),
            apply=add_constraint,
            shows=lambda before, after: (
                sum(map(_constrained, _parameters(after))) > sum(map(_constrained, _parameters(before)))
            ),
            choices=_constraint_choices,
        ),
        OperatorSpec(
            "nest_parameter",
            "Add one input to one of these functions that is an object, or an array of objects, with "
            "2 to 4 properties of its own (e.g. a filter object, a list of items with name and quantity).",
            NestedParameter,
            applies=lambda fs: bool(_roomy(fs)["function"]),
            apply=nest_parameter,
            shows=lambda before, after: (
                sum(map(_nested, _parameters(after))) > sum(map(_nested, _parameters(before)))
            ),
            choices=_roomy,
        ),
        OperatorSpec(
            "change_return",
            "Change what one of these functions returns: a nested field (an object, or an array of "
            "objects, with 2 to 4 fields of its own), and the flat fields beside it.",
            NewReturn,
            applies=lambda fs: bool(fs),
            apply=change_return,
            shows=lambda before, after: (
                sum(map(_nested, _fields(after))) > sum(map(_nested, _fields(before)))
                or _fields(after) != _fields(before)
            ),
            choices=_names,
        ),
    )
}


def decoding_schema(spec: OperatorSpec, functions: Functions) -> dict[str, Any]:
    """The change's JSON schema for decoding, as an API's (`for_decoding`), with the names
    it may refer to as enums: the LLM cannot name a function or parameter the API lacks."""
    schema = for_decoding(copy.deepcopy(compact_schema(spec.change)))
    for field, names in spec.choices(functions).items():
        schema["properties"][field] = {"type": "string", "enum": names}
    return schema
