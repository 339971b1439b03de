"""An eval source in ToolAlpaca's published evaluation format: `read_toolalpaca(path)` -> `EvalSet`.

The file (ToolAlpaca's `data/eval_simulated.json`, 10 tools, and `data/eval_real.json`, 11 real APIs)
is one JSON list of tools. Each entry has `Name`, `Description`, `Category`, `Documentation` (the
OpenAPI 3.0.x spec as JSON text), `NLDocumentation` and `Function_Description` (ToolAlpaca's
rendering), `Function_Projection` (function name -> `[path, lowercase method]`), `Instructions` (a list
of requests) and `Golden_Answers` (one list per instruction of `{"Action", "Action_Input"}` steps,
`Action_Input` as JSON text). The simulated file adds `Link`, `Introduction` and `Functions` (the
toolsmith's text); the real one has no `Link` nor `Introduction` but `Authentication` (keys masked
`***`) and `external_tools`. Only `Name`, `Documentation` and `Instructions` are required here.

What the published files do, and what is made of it:

- Function names. Most real specs have no `operationId`: ToolAlpaca names such an operation after its
  path and method (`/jokes/random` GET -> `jokes_random_get`), and its golden answers call those names.
  Each operation is given the `operationId` its `Function_Projection` entry names (path and method
  matched case-insensitively, a missing leading `/` ignored); one the projection leaves out keeps its
  own `operationId`, else gets ToolAlpaca's name: the projection is incomplete in places (AviationAPI
  projects 5 of its 10 operations, and its golden answers call the others, `weather_metar_get`...).
  The spec is validated with these names, so `Tool.openapi`, `routes` and `function_tools` agree.
- Documentation. Our `nl_documentation` rendering replaces theirs (the one models trained on our corpus
  read). Meaning-preserving repairs are made before validation (`tasks/evaluation/spec_repairs.py`),
  each for a real-file quirk that fails validation alone: a path key without its leading `/`
  (Fruityvice), a path parameter marked `required: false` (chucknorris.io), a Swagger-2 `schema`
  directly on a response (CurrencyBeacon), root-level `parameters` (Random Useless Facts), path items
  nested inside another and `components` inside `paths` (AviationAPI). `EvalSet.repairs` says per
  tool what was repaired. A spec still invalid after them makes the tool rejected: each of its
  instructions is a rejected case (rule `invalid_tool`) naming the tool, the repairs made and the
  validator's first complaints, cut short; so do a Documentation that is not JSON and a spec without
  operations. Every reason is at most `REASON_CHARS` characters, on one line.
- Golden answers. A clarifying question is a `getDetails` step (`{"Question": "..."}`), kept as a
  step; `EvalCase.golden_calls()` leaves it out. Values the reference could not know are placeholders
  written into the JSON text, mostly unquoted (`{"animeId": ${animeId from searchAnime}}`,
  `"{start date}"`, `${string}`), and a few inputs are broken JSON (`"symbols": "symbols": [...]`):
  `Action_Input` text is kept as written (a dict is dumped to JSON text), so `GoldenStep.arguments()`
  is `{}` for those. A step naming a function the tool does not have (including ToolAlpaca's
  `[Optional]updateUserProfile` marker) makes its case rejected: it cannot be scored. Real answers
  carry literal API keys (the file's `Authentication` masks them); they are kept as the reference.
- Alignment. `Instructions` and `Golden_Answers` are aligned lists; an instruction without its golden
  answer, or a golden answer without its instruction, is a rejected case (`<tool_id>-<n>`, rule
  `invalid_case`).

Tool ids are slugs of `Name` (`Nager.Date` -> `nager-date`), a repeat numbered `-2`, `-3`...; the
case of the n-th instruction (from 1) is `<tool_id>-<n>`. A file that cannot be read as such a list
(missing, not JSON, not a list, an entry that is not an object or lacks `Name`, `Documentation` or
`Instructions`) raises `InputError` naming the file and the entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.errors import InputError
from schemas.evaluation import EvalCase, EvalSet, GoldenStep, GoldenTurn, rejected_case
from schemas.rejection import Rejection
from schemas.simulation import ASK_USER
from schemas.spec import HTTP_METHODS, nl_documentation, operations, routes
from schemas.text import clipped
from schemas.tool import Tool
from tasks.evaluation.spec_repairs import repair_spec
from tasks.openapi import spec_problems
from tasks.seeds import slugify

SOURCE_MODEL = "toolalpaca"
UNCATEGORIZED = "Uncategorized"
REASON_CHARS = 400
"""A rejected case's reason, at most (a few lines of a report)."""
PROBLEMS_SHOWN, PROBLEM_CHARS = 3, 160
"""The validator's complaints a reason quotes, and the characters of each."""
_KINDS = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


class _Skip(Exception):
    """Why a tool or a case cannot be evaluated (becomes the reason of its rejected cases)."""


def read_toolalpaca(path: Path) -> EvalSet:
    """The cases, tools and rejected cases of a file in ToolAlpaca's evaluation format."""
    entries = _load(path)
    cases: list[EvalCase] = []
    rejected: list[Rejection] = []
    tools: dict[str, Tool] = {}
    repairs: dict[str, list[str]] = {}
    used_ids: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        where = _where(path, number, len(entries), entry)
        instructions, answers = _checked_entry(entry, where)
        tool_id = _unique(slugify(entry["Name"]), used_ids)
        tool: Tool | None = None
        notes: list[str] = []
        try:
            tool, notes = _tool(entry, tool_id)
            tool_problem = ""
        except _Skip as exc:
            tool_problem = clipped(f"tool {entry['Name']!r}: {exc}", REASON_CHARS, one_line=True)
        for n in range(1, max(len(instructions), len(answers)) + 1):
            case_id = f"{tool_id}-{n}"
            if tool is None:
                rejected.append(rejected_case(case_id, "invalid_tool", tool_problem))
                continue
            try:
                case = _case(case_id, tool, instructions, answers, n)
            except _Skip as exc:
                rejected.append(
                    rejected_case(case_id, "invalid_case", clipped(str(exc), REASON_CHARS, one_line=True))
                )
                continue
            cases.append(case)
            tools[tool_id] = tool
            if notes:
                repairs[tool_id] = notes
    return EvalSet(cases=cases, tools=tools, rejected=rejected, repairs=repairs)


def toolalpaca_requests(path: Path) -> list[tuple[str, str]]:
    """(case id, request) of every instruction of the file that is a request (a non-empty string),
    whatever its tool's spec: the questions of the test set, as `read_toolalpaca` names its cases,
    without building or validating the tools."""
    entries = _load(path)
    found: list[tuple[str, str]] = []
    used_ids: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        instructions, _ = _checked_entry(entry, _where(path, number, len(entries), entry))
        tool_id = _unique(slugify(entry["Name"]), used_ids)
        found += [
            (f"{tool_id}-{n}", request)
            for n, request in enumerate(instructions, start=1)
            if isinstance(request, str) and request.strip()
        ]
    return found


# --------------------------------------------------------------------------- the file and its entries


def _load(path: Path) -> list[Any]:
    """The file's JSON list; InputError when it is missing, unreadable, not JSON or not a list."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (expected ToolAlpaca's evaluation JSON)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as UTF-8 text: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: ToolAlpaca's evaluation file is a JSON list of tools, not {_kind(data)}")
    return data


def _where(path: Path, number: int, total: int, entry: Any) -> str:
    """`file: entry n of N ('Name')`, for error messages."""
    name = entry.get("Name") if isinstance(entry, dict) else None
    named = f" ({name!r})" if isinstance(name, str) and name.strip() else ""
    return f"{path}: entry {number} of {total}{named}"


def _checked_entry(entry: Any, where: str) -> tuple[list[Any], list[Any]]:
    """The entry's instructions and golden answers; InputError when it lacks what every entry has."""
    if not isinstance(entry, dict):
        raise InputError(f"{where} is {_kind(entry)}, not an object")
    name = entry.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where} has no Name (a non-empty string)")
    if "Documentation" not in entry:
        raise InputError(f"{where} has no Documentation (its OpenAPI spec as JSON text)")
    instructions = entry.get("Instructions")
    if not isinstance(instructions, list):
        found = "none" if instructions is None else _kind(instructions)
        raise InputError(f"{where}: Instructions must be a list of requests, found {found}")
    answers = entry.get("Golden_Answers", [])
    if not isinstance(answers, list):
        raise InputError(
            f"{where}: Golden_Answers must be a list (one per instruction), not {_kind(answers)}"
        )
    projection = entry.get("Function_Projection", {})
    if projection is not None and not isinstance(projection, dict):
        raise InputError(
            f"{where}: Function_Projection must be an object (name -> [path, method]), "
            f"not {_kind(projection)}"
        )
    return instructions, answers


def _unique(slug: str, used: set[str]) -> str:
    """`slug`, or `slug-2`, `slug-3`... when it is taken; recorded as taken."""
    candidate, number = slug, 2
    while candidate in used:
        candidate, number = f"{slug}-{number}", number + 1
    used.add(candidate)
    return candidate


def _kind(value: Any) -> str:
    """A value's JSON type, with its article: `an object`, `a list`, ..., `null`."""
    return "null" if value is None else _KINDS.get(type(value), "a value")


# --------------------------------------------------------------------------- the tool


def _tool(entry: dict[str, Any], tool_id: str) -> tuple[Tool, list[str]]:
    """The tool record of an entry and what was repaired in its spec; _Skip when its spec cannot be
    used (what was repaired named in the reason)."""
    repaired, notes = _spec(entry["Documentation"])
    spec = _named_spec(repaired, entry.get("Function_Projection") or {})
    after = f" (after repairs: {'; '.join(notes)})" if notes else ""
    if not operations(spec):
        raise _Skip(f"its spec has no operations{after}")
    problems = spec_problems(spec)
    if problems:
        raise _Skip(f"its spec fails OpenAPI validation{after}: {_summary(problems)}")
    description = _text(entry.get("Description"))
    tool = Tool(
        tool_id=tool_id,
        name=entry["Name"],
        category=_text(entry.get("Category")) or UNCATEGORIZED,
        description=description,
        link=_server_url(spec),
        auth="",
        introduction=_text(entry.get("Introduction")) or description,
        functions=[],
        openapi=json.dumps(spec, ensure_ascii=False),
        nl_documentation=nl_documentation(spec),
        routes=routes(spec),
        model=SOURCE_MODEL,
    )
    return tool, notes


def _summary(problems: list[str]) -> str:
    """The validator's first complaints, each cut to `PROBLEM_CHARS` (a complaint can quote a whole
    path item), and whether it made more."""
    shown = [clipped(problem, PROBLEM_CHARS, one_line=True) for problem in problems[:PROBLEMS_SHOWN]]
    return "; ".join(shown) + ("; and more" if len(problems) > len(shown) else "")


def _spec(documentation: Any) -> tuple[dict[str, Any], list[str]]:
    """The spec of a Documentation value (JSON text, or already an object), repaired, and what was
    repaired (`tasks/evaluation/spec_repairs.py`)."""
    if isinstance(documentation, str):
        try:
            documentation = json.loads(documentation)
        except json.JSONDecodeError as exc:
            raise _Skip(f"its Documentation is not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(documentation, dict):
        raise _Skip(f"its Documentation is {_kind(documentation)}, not an OpenAPI spec object")
    return repair_spec(documentation)


def _named_spec(spec: dict[str, Any], projection: dict[str, Any]) -> dict[str, Any]:
    """The spec with each operation's `operationId` set: its projected name, else its own, else
    ToolAlpaca's `path_segments_method` name."""
    projected: dict[tuple[str, str], str] = {}
    for name, place in projection.items():
        if not (isinstance(place, list) and len(place) == 2 and all(isinstance(p, str) for p in place)):
            raise _Skip(f"Function_Projection[{name!r}] is not [path, method]: {place!r}")
        projected.setdefault(_route_key(place[0], place[1]), name)
    paths = spec.get("paths")
    if not isinstance(paths, dict):
        return spec
    named: dict[str, Any] = {}
    taken: set[str] = set()
    for path, item in paths.items():
        if not isinstance(item, dict):
            named[path] = item
            continue
        named[path] = {**item}
        for method, operation in item.items():
            if method not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            own = operation.get("operationId")
            name = projected.get(_route_key(path, method)) or (
                own if isinstance(own, str) and own.strip() else _toolalpaca_name(path, method)
            )
            base, number = name, 2
            while name in taken:  # as `schemas.spec.operations` numbers a repeated name
                name, number = f"{base}_{number}", number + 1
            taken.add(name)
            named[path][method] = {**operation, "operationId": name}
    return {**spec, "paths": named}


def _route_key(path: str, method: str) -> tuple[str, str]:
    """How a projection entry and an operation are matched: case-insensitive, leading `/` optional."""
    return "/" + path.strip().lstrip("/").lower(), method.strip().lower()


def _toolalpaca_name(path: str, method: str) -> str:
    """ToolAlpaca's name for an operation without `operationId` (its `natural_language_documentation.py`):
    `/jokes/random/{category}` GET -> `jokes_random_category_get`."""
    return path[1:].replace("/", "_").replace("{", "").replace("}", "") + "_" + method


def _server_url(spec: dict[str, Any]) -> str:
    """The spec's first server URL, or ""."""
    servers = spec.get("servers")
    first = servers[0] if isinstance(servers, list) and servers else None
    url = first.get("url") if isinstance(first, dict) else None
    return url if isinstance(url, str) else ""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# --------------------------------------------------------------------------- the cases


def _case(case_id: str, tool: Tool, instructions: list[Any], answers: list[Any], n: int) -> EvalCase:
    """The case of the n-th instruction (from 1); _Skip when it cannot be scored."""
    if n > len(instructions):
        raise _Skip(
            f"golden answer {n} has no instruction ({len(instructions)} instructions, "
            f"{len(answers)} golden answers)"
        )
    request = instructions[n - 1]
    if not isinstance(request, str) or not request.strip():
        raise _Skip(f"instruction {n} is not a request (a non-empty string): {request!r}")
    if n > len(answers):
        raise _Skip(
            f"instruction {n} has no golden answer ({len(instructions)} instructions, "
            f"{len(answers)} golden answers)"
        )
    steps = _steps(answers[n - 1], n, tool)
    return EvalCase(
        case_id=case_id,
        source="toolalpaca",
        tool_ids=[tool.tool_id],
        dialog_type="single",
        turns=[GoldenTurn(request=request, steps=steps)],
    )


def _steps(answer: Any, n: int, tool: Tool) -> list[GoldenStep]:
    """The golden steps of one answer; _Skip when one is malformed or calls an unknown function."""
    if not isinstance(answer, list):
        raise _Skip(f"golden answer {n} is {_kind(answer)}, not a list of steps")
    functions = {route.name for route in tool.routes}
    steps = []
    for k, step in enumerate(answer, start=1):
        action = step.get("Action") if isinstance(step, dict) else None
        if not isinstance(action, str) or not action.strip():
            raise _Skip(f"golden answer {n}, step {k} has no Action: {step!r}")
        if action != ASK_USER and action not in functions:
            known = ", ".join(sorted(functions))
            raise _Skip(
                f"golden answer {n}, step {k} calls {action!r}, which tool {tool.name!r} does not have "
                f"(its functions: {known}): the answer cannot be scored"
            )
        steps.append(GoldenStep(action=action, action_input=_input_text(step.get("Action_Input"))))
    return steps


def _input_text(value: Any) -> str:
    """An `Action_Input` as JSON text: a string as written, anything else dumped (none: `{}`)."""
    if value is None:
        return "{}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
