"""Canned, valid answers for every structured request ToolForge makes: a scripted stand-in for an LLM.

The fake server (`bench.fake_llm_server --responder bench.responders:toolforge`) and the tests use
it to drive the real pipeline without a model. Requests are told apart by the schema name the
gateway sends (`response_format.json_schema.name`, the pydantic model's class name).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
from collections.abc import Callable
from typing import Any

from bench.schema_sampler import sample_from_schema

_NAME = re.compile(r"^(?:Name: (.+)|API: (.+?) \([^()]*\))$", re.MULTILINE)


def schema_name(request: dict[str, Any]) -> str:
    fmt = request.get("response_format") or {}
    return (fmt.get("json_schema") or {}).get("name", "")


def _text(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in request.get("messages", []))


def _api_name(request: dict[str, Any]) -> str:
    found = _NAME.search(_text(request))
    return (found.group(1) or found.group(2)).strip() if found else "Sample API"


def _camel(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name) or ["api"]
    return "".join(w.capitalize() for w in words)


def introduction(request: dict[str, Any]) -> dict[str, Any]:
    name = _api_name(request)
    return {
        "introduction": f"{name} is a web API that gives developers programmatic access to its records. "
        "It offers search over the collection, lookup of single records by id, and returns JSON documents "
        "that are easy to use in applications, dashboards and chat assistants."
    }


def function_catalog(request: dict[str, Any]) -> dict[str, Any]:
    camel = _camel(_api_name(request))
    return {
        "functions": [
            {
                "name": f"search{camel}",
                "description": "Searches the records that match a query and returns their ids and titles.",
                "method": "GET",
                "path": "/records",
                "parameters": [
                    {
                        "name": "query",
                        "location": "query",
                        "type": "string",
                        "description": "Text to search for",
                        "required": True,
                    },
                    {
                        "name": "limit",
                        "location": "query",
                        "type": "integer",
                        "description": "Maximum number of results",
                        "required": False,
                        "default": "10",
                    },
                ],
                "response_media_type": "application/json",
                "response_description": "The matching records",
                "response_fields": [
                    {"name": "results", "type": "array", "items_type": "string", "description": "Record ids"},
                    {"name": "count", "type": "integer", "description": "Number of matches"},
                ],
                "errors": [{"status": 400, "description": "The query is empty or malformed"}],
            },
            {
                "name": f"get{camel}Record",
                "description": "Returns one record by its id, with its title and details.",
                "method": "GET",
                "path": "/records/{recordId}",
                "parameters": [
                    {
                        "name": "recordId",
                        "location": "path",
                        "type": "string",
                        "description": "Id of the record",
                        "required": True,
                    },
                ],
                "response_media_type": "application/json",
                "response_description": "The record",
                "response_fields": [
                    {"name": "id", "type": "string", "description": "Record id"},
                    {"name": "title", "type": "string", "description": "Record title"},
                    {"name": "details", "type": "string", "description": "Record details"},
                ],
                "errors": [{"status": 404, "description": "No record has that id"}],
            },
        ]
    }


def _schema(request: dict[str, Any]) -> dict[str, Any]:
    fmt = request.get("response_format") or {}
    return (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema") or {}


def _sample(schema: dict[str, Any], request: dict[str, Any]) -> Any:
    seed = int(hashlib.sha256(_text(request).encode()).hexdigest()[:8], 16)
    return sample_from_schema(schema, rng=random.Random(seed))


_TASKS = ["find", "look up", "check", "list", "compare", "summarize", "track", "review", "fetch", "explain"]
_OBJECTS = ["Lisbon", "Osaka", "Nairobi", "Lima", "Oslo", "Denver", "Hanoi", "Porto", "Quito", "Tunis"]
_TOPICS = [
    "museums",
    "markets",
    "weather",
    "trains",
    "festivals",
    "parks",
    "food",
    "history",
    "hotels",
    "music",
]
_WHEN = [
    "today",
    "tomorrow",
    "this weekend",
    "next week",
    "in spring",
    "in May",
    "tonight",
    "soon",
    "in June",
    "now",
]
_SYLLABLES = ["ka", "lo", "mi", "ren", "su", "tor", "vi", "zan", "pel", "dor"]


def _wording(request: dict[str, Any], i: int) -> tuple[str, ...]:
    """The task, place, topic and time of request `i` of a batch, and a project's name of three made-up
    words (one of a thousand each), all drawn from the prompt and `i`: no two requests of a run share
    enough words to be near-duplicates by accident (the corpus-wide dedup would drop one)."""
    digest = hashlib.sha256(f"{_text(request)}#{i}".encode()).digest()
    j = i + int.from_bytes(digest[:4], "big")
    names = [
        "".join(_SYLLABLES[d % 10] for d in (b // 100, b // 10, b)).capitalize()
        for b in (int.from_bytes(digest[4 + 2 * k : 6 + 2 * k], "big") % 1000 for k in range(3))
    ]
    return (
        _TASKS[j % 10],
        _OBJECTS[(3 * j + j // 10) % 10],
        _TOPICS[(7 * j + j // 100) % 10],
        _WHEN[(j // 1000) % 10],
        " ".join(names),
    )


def instruction_batch(request: dict[str, Any]) -> dict[str, Any]:
    """Distinct requests: naming as many of the tool's functions as the decoding schema asks for
    (in the order it lists them, so a dependent request searches before it fetches), else requests
    that need no function of the tool."""
    batch = _schema(request)["properties"]["instructions"]
    functions = batch["items"]["properties"].get("functions")
    api, styles = _api_name(request), ["command", "question", "story"]
    instructions = []
    for i in range(batch.get("minItems", 1)):
        task, place, topic, when, project = _wording(request, i)
        if functions is None:
            text = f"What is a good way to {task} {topic} in {place} {when} for the {project} club"
            text += f", without {api}?"
            instructions.append({"text": text, "style": styles[i % 3]})
            continue
        text = f"Please {task} what {api} has on {place} and its {topic} for the {project} trip {when}"
        names = functions["items"]["enum"]
        needed = [names[n % len(names)] for n in range(functions.get("minItems", 1))]
        instructions.append({"text": text, "style": styles[i % 3], "functions": needed})
    return {"instructions": instructions}


PARALLEL = "multi_tool_use.parallel"
_NOT_CALLS = {"finish", "getDetails", PARALLEL}
_REQUEST = "User request: "


def _moves(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The assistant's open moves in this request's decoding schema: action -> its branch."""
    return {b["properties"]["action"]["const"]: b for b in _schema(request)["anyOf"]}


def _current_request(request: dict[str, Any]) -> str:
    """The prompt from the current user request on (earlier turns of a multi-turn dialogue left out)."""
    return _text(request).rsplit(_REQUEST, 1)[-1]


def _words(text: str) -> list[str]:
    """The words of a user's request an assistant's arguments take (capitalised ones first: names)."""
    found = re.findall(r"[A-Za-z][A-Za-z-]{3,}", text)
    names = [w for w in found if w[0].isupper() and w not in ("Please", "What")]
    return names or found or ["Lisbon"]


def _said(request: dict[str, Any]) -> list[str]:
    """The words of the current user request (the first line of the prompt's current request)."""
    return _words(_current_request(request).split("\n", 1)[0])


_PLACE = re.compile(r" has on ([A-Za-z][A-Za-z -]*?) and its ")


def grounded_place(request: dict[str, Any]) -> list[str]:
    """The place the current request names (`instruction_batch`'s "... has on <place> and its ..."),
    else the request's words."""
    found = _PLACE.search(_current_request(request).split("\n", 1)[0])
    return [found.group(1)] if found else _said(request)


def _parallel(branch: dict[str, Any], rng: random.Random, words: list[str]) -> dict[str, Any]:
    """Two calls at once, sampled from the parallel branch."""
    calls = branch["properties"]["calls"]
    sampled = sample_from_schema({**calls, "minItems": 2, "maxItems": 2}, rng=rng, words=words)
    return {"thought": "Both can be done at once.", "action": PARALLEL, "calls": sampled}


def assistant_turn(request: dict[str, Any], grounded: bool = False) -> dict[str, Any]:
    """Finish once something came back for the current request, where finishing is open (at once
    where it is the only move: a non_tool dialogue); else call several functions where that is the
    move (a parallel dialogue), else one, preferring one not called yet (arguments sampled from its
    schema, so a dependent call takes the value its schema allows: one an earlier result gave).

    `grounded`: every free string argument is the place the request names (`grounded_place`), optional
    ones are left out and other values are drawn the same way for every request, as a capable model
    takes the value the user gave; otherwise each is drawn at random from the request's words (noise
    no model can learn)."""
    moves, current = _moves(request), _current_request(request)
    if list(moves) == ["finish"]:
        answer = "Here is what I know, without the API."
        return {"thought": "No function is needed.", "action": "finish", "final_answer": answer}
    seed = 0 if grounded else int(hashlib.sha256(_text(request).encode()).hexdigest()[:8], 16)
    rng = random.Random(seed)
    words = grounded_place(request) if grounded else _said(request)
    if PARALLEL in moves:
        return _parallel(moves[PARALLEL], rng, words)
    if "Observation:" in current and "finish" in moves:
        return {
            "thought": "The function answered; I can tell the user.",
            "action": "finish",
            "final_answer": _told("Here is what the API returned for your request", _observed(current)),
        }
    functions = [name for name in moves if name not in _NOT_CALLS]
    fresh = [name for name in functions if f"Action: {name}\n" not in current]
    new = _new_call(moves, fresh + [f for f in functions if f not in fresh], _text(request), rng, words)
    if new is None and "finish" in moves:
        answer = _told("That is all I found", _observed(current))
        return {"thought": "Nothing new to ask.", "action": "finish", "final_answer": answer}
    name, arguments = new or _first_call(moves, functions, rng, words)
    if grounded:  # what the request does not ask for is left to the function's defaults
        required = moves[name]["properties"]["action_input"].get("required", [])
        arguments = {key: value for key, value in arguments.items() if key in required}
    return {"thought": "I should call the API.", "action": name, "action_input": arguments}


def _new_call(
    moves: dict[str, dict[str, Any]], names: list[str], text: str, rng: random.Random, words: list[str]
) -> tuple[str, dict[str, Any]] | None:
    """The first of `names` with arguments (sampled, a few tries each) that the prompt does not show
    as made already (the assistant refuses a call answered before, in any turn); None when there is
    none."""
    for name in names:
        for _ in range(4):
            arguments = sample_from_schema(moves[name]["properties"]["action_input"], rng=rng, words=words)
            if f"Action: {name}\nAction Input: {json.dumps(arguments, ensure_ascii=False)}\n" not in text:
                return name, arguments
    return None


def _first_call(
    moves: dict[str, dict[str, Any]], names: list[str], rng: random.Random, words: list[str]
) -> tuple[str, dict[str, Any]]:
    schema = moves[names[0]]["properties"]["action_input"]
    return names[0], sample_from_schema(schema, rng=rng, words=words)


def varied_assistant_turn(request: dict[str, Any]) -> dict[str, Any]:
    """Pick among the open moves at random (seeded by the request): a dialogue makes 1 to 4 calls of
    any of the tool's functions before it finishes, so dialogues end at different lengths."""
    moves, current = _moves(request), _current_request(request)
    done = current.count("Observation:")
    about = current.split("\n", 1)[0]
    wanted = 1 + int(hashlib.sha256(about.encode()).hexdigest(), 16) % 4
    rng = random.Random(int(hashlib.sha256(_text(request).encode()).hexdigest()[:8], 16))
    words = _said(request)
    if PARALLEL in moves:
        return _parallel(moves[PARALLEL], rng, words)
    functions = [name for name in moves if name not in _NOT_CALLS]
    finished = {"thought": "I have it.", "action": "finish"}
    if "finish" in moves and (done >= wanted or not functions):
        return finished | {"final_answer": _told(f"Done after {done} calls", _observed(current))}
    new = _new_call(moves, rng.sample(functions, len(functions)), _text(request), rng, words)
    if new is None and "finish" in moves:
        return finished | {"final_answer": _told(f"Done after {done} calls", _observed(current))}
    name, arguments = new or _first_call(moves, functions, rng, words)
    return {"thought": f"Call number {done + 1}.", "action": name, "action_input": arguments}


_OBSERVATION = re.compile(r"^Observation: (.*)$", re.MULTILINE)


def _value(body: Any) -> str:
    """A value a tool result holds (its body, or its JSON text): its first string, else its first
    number; '' when it holds neither."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body.strip()[:80]
    strings = _strings(body)
    if strings:
        return strings[0]
    numbers = re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?", json.dumps(body))
    return numbers[0] if numbers else ""


def _observed(current: str) -> str:
    """A value of the last observation in the prompt's current request (`_value` of its body)."""
    found = _OBSERVATION.findall(current)
    try:
        observation = json.loads(found[-1]) if found else {}
    except ValueError:
        return ""
    return _value(observation.get("body") if isinstance(observation, dict) else observation)


def _told(answer: str, value: str) -> str:
    """A final answer naming `value` (what a result held), as a sound answer names what it was told."""
    return f"{answer}: {value}." if value else f"{answer}."


def _tool_call(number: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"call_{number}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) and 2 <= len(value) <= 80 else []


def _result_value(results: list[dict[str, Any]], said: str) -> str | None:
    """A string the last tool result holds and no user message said: what a dependent call takes."""
    if not results:
        return None
    try:
        body = json.loads(results[-1].get("content") or "")
    except ValueError:
        return None
    return next((value for value in _strings(body) if value.casefold() not in said.casefold()), None)


def native_assistant(request: dict[str, Any]) -> dict[str, Any]:
    """The assistant with native function calling (a request with `tools`), deciding as
    `assistant_turn` does: an answer where no call is allowed or once something came back (if
    answering is open), else several calls where `parallel_tool_calls` is asked for, else one call of
    a function not called yet, taking a string argument from the last result when there is one."""
    messages = request["messages"]
    tools = {t["function"]["name"]: t["function"] for t in request.get("tools") or []}
    choice = request.get("tool_choice") or "auto"
    last_request = max(i for i, m in enumerate(messages) if m["role"] == "user")
    current = messages[last_request + 1 :]
    results = [m for m in current if m["role"] == "tool"]
    if choice == "none":
        return {"content": "Here is what I know, without the API."}
    if results and choice != "required":
        told = _value(results[-1]["content"])
        return {"content": _told("Here is what the API returned for your request", told)}
    rng = random.Random(int(hashlib.sha256(json.dumps(messages).encode()).hexdigest()[:8], 16))
    functions = [name for name in tools if name != "getDetails"]
    made = sum(len(m.get("tool_calls") or []) for m in messages)
    words = _words(str(messages[last_request].get("content") or ""))
    if request.get("parallel_tool_calls"):
        name = functions[0]
        calls = [
            _tool_call(made + n, name, sample_from_schema(tools[name]["parameters"], rng=rng, words=words))
            for n in (1, 2)
        ]
        return {"content": "Both can be done at once.", "tool_calls": calls}
    called = {c["function"]["name"] for m in current for c in m.get("tool_calls") or []}
    name = ([f for f in functions if f not in called] or functions)[0]
    parameters = tools[name]["parameters"]
    arguments = sample_from_schema(parameters, rng=rng, words=words)
    said = "\n".join(str(m.get("content") or "") for m in messages if m["role"] == "user")
    taken = _result_value(results, said)
    strings = [p for p, schema in parameters.get("properties", {}).items() if schema.get("type") == "string"]
    if taken is not None and strings:
        arguments[strings[0]] = taken
    return {"content": "I should call the API.", "tool_calls": [_tool_call(made + 1, name, arguments)]}


def user_reply(request: dict[str, Any]) -> dict[str, Any]:
    return {"reply": "Use Lisbon, and the record id 42."}


def follow_up(request: dict[str, Any]) -> dict[str, Any]:
    """A follow-up request, numbered by the requests made so far."""
    made = _text(request).count("You: ")
    return {"text": f"Thanks. Now the same for {_OBJECTS[made % 10]}, please (request {made + 1})."}


def executor_answer(request: dict[str, Any]) -> dict[str, Any]:
    """The first documented status with a body sampled from its response schema."""
    schema = _schema(request)
    status = schema["properties"]["status_code"]["enum"][0]
    body = _sample(schema["properties"]["body"]["anyOf"][0], request)
    return {"status_code": status, "body": body}


JUDGE_CHECKS = ("unsolvable", "hallucination", "inconsistent_answer", "implausible_response")


def judge_verdicts(request: dict[str, Any]) -> dict[str, Any]:
    """Every check passed, each with a sentence of reason."""
    return {
        check: {"passed": True, "reason": f"The dialogue shows no {check.replace('_', ' ')}."}
        for check in JUDGE_CHECKS
    }


def varied_judge(request: dict[str, Any]) -> dict[str, Any]:
    """Like `judge_verdicts`, but one dialogue in ten fails one check (drawn from the dialogue)."""
    verdicts = judge_verdicts(request)
    draw = int(hashlib.sha256(_text(request).encode()).hexdigest()[:8], 16)
    if draw % 10 == 0:
        check = JUDGE_CHECKS[draw // 10 % len(JUDGE_CHECKS)]
        verdicts[check] = {"passed": False, "reason": f"The judge found {check.replace('_', ' ')}."}
    return verdicts


def trajectory_judgement(request: dict[str, Any]) -> dict[str, Any]:
    """An evaluation's judge: the process and the response correct."""
    return {
        "analysis": "The solution makes the standard answer's calls.",
        "process": "Yes",
        "response": "Yes",
    }


_REACT_FUNCTIONS = re.compile(r"Action: the function to call, one of \[([^\]]*)\]")


def react_step(request: dict[str, Any]) -> str:
    """A model under evaluation that writes ReAct text: a call of the first function offered (its
    input the request's first word, as `query`), then, once it has an observation, the final answer."""
    text = _text(request)
    if "\nObservation:" in text.split("User request:")[-1]:
        return "Thought: I have the result.\nFinal Answer: Here is what the function returned."
    found = _REACT_FUNCTIONS.search(text)
    function = found.group(1).split(",")[0].strip() if found else "search"
    word = (_words(text.split("User request:")[-1]) or ["records"])[0]
    return f'Thought: I will call {function}.\nAction: {function}\nAction Input: {{"query": "{word}"}}\n'


# -- the API pool ---------------------------------------------------------------------------------------

_POOL_WORDS = [
    "harbor",
    "ledger",
    "orbit",
    "canopy",
    "signal",
    "meadow",
    "ember",
    "quarry",
    "lantern",
    "vessel",
    "summit",
    "delta",
    "prism",
    "cobalt",
    "willow",
    "basalt",
    "tundra",
    "cipher",
    "beacon",
    "atlas",
    "rover",
    "falcon",
    "granite",
    "nectar",
    "pillar",
    "ripple",
    "saffron",
    "timber",
    "vertex",
    "zephyr",
    "amber",
    "birch",
    "cedar",
    "dune",
    "fjord",
    "glacier",
    "hazel",
    "iris",
    "jade",
    "kelp",
    "lotus",
    "maple",
    "nimbus",
    "onyx",
    "pebble",
    "quartz",
    "reef",
    "sierra",
    "thistle",
    "umber",
    "violet",
    "walnut",
    "yarrow",
    "zinc",
    "alloy",
    "bramble",
    "crest",
    "drift",
    "echo",
    "flint",
    "grove",
    "heron",
    "inlet",
    "juniper",
    "knoll",
    "lagoon",
    "marsh",
    "nook",
    "oasis",
    "plume",
    "quill",
    "rune",
    "shoal",
    "tarn",
    "upland",
    "vale",
    "wren",
    "yonder",
    "zenith",
    "anvil",
    "bolt",
    "cairn",
    "dell",
    "estuary",
    "ferry",
    "gale",
    "hollow",
    "isle",
    "jetty",
    "keel",
    "ledge",
    "mesa",
]
_COUNT = re.compile(r"Give exactly (\d+) new ones")
_FUNCTION_LINE = re.compile(r"^- (\w+) \((\w+) ([^)]*)\): (.*); returns", re.MULTILINE)
_PARAMETER = re.compile(r"(\w+) \((query|path|body) (string|integer|number|boolean|array|object)([^)]*)\)")


def _pool_rng(request: dict[str, Any]) -> random.Random:
    return random.Random(hashlib.sha256(_text(request).encode()).hexdigest())


def taxonomy_growth(request: dict[str, Any]) -> dict[str, Any]:
    """New taxonomy nodes: as many as asked, named from words drawn by the request."""
    found = _COUNT.search(_text(request))
    count, rng = int(found.group(1)) if found else 3, _pool_rng(request)
    return {
        "children": [
            {
                "name": f"{' '.join(rng.sample(_POOL_WORDS, 2)).title()} {i + 1}",
                "description": "Services around "
                + " and ".join(rng.sample(_POOL_WORDS, 2))
                + " for daily use.",
            }
            for i in range(count)
        ]
    }


_EXTRA_INPUTS = (
    {"name": "minScore", "type": "number", "description": "Lowest relevance score to return"},
    {"name": "includeArchived", "type": "boolean", "description": "Whether archived records count"},
    {"name": "tags", "type": "array", "items_type": "string", "description": "Tags the records carry"},
    {"name": "options", "type": "object", "description": "Search options as key-value pairs"},
    {"name": "language", "type": "string", "description": "Language of the titles", "default": "en"},
)


def _inputs(rng: random.Random) -> list[dict[str, Any]]:
    """One or two inputs of the kinds the records API lacks, drawn by `rng` (query, optional)."""
    return [{**extra, "location": "query"} for extra in rng.sample(_EXTRA_INPUTS, rng.randint(1, 2))]


def api_draft(request: dict[str, Any]) -> dict[str, Any]:
    """An API with a name and description of words drawn by the request (so the dedup keeps it) and
    the records API's two functions, named after it, the search with inputs of other types."""
    rng = _pool_rng(request)
    words = rng.sample(_POOL_WORDS, 10)
    name = f"{words[0].title()}{words[1]} {words[2].title()}"
    catalog = function_catalog({"messages": [{"content": f"Name: {name}"}]})
    catalog["functions"][0]["parameters"] += _inputs(rng)
    return {
        "name": name,
        "description": f"Tracks {words[3]} {words[4]} and {words[5]} {words[6]} with {words[7]}, {words[8]} "
        f"and {words[9]} reports.",
        "functions": catalog["functions"],
    }


def _functions_shown(request: dict[str, Any]) -> dict[str, list[tuple[str, str, str]]]:
    """The functions an evolution prompt lists: name -> [(parameter, type, extras)]."""
    shown = {}
    for name, _method, _path, inputs in _FUNCTION_LINE.findall(_text(request)):
        shown[name] = [(p, kind, extras) for p, _where, kind, extras in _PARAMETER.findall(inputs)]
    return shown


def _choice(request: dict[str, Any], field: str) -> str:
    return _schema(request)["properties"][field]["enum"][0]


def new_function(request: dict[str, Any]) -> dict[str, Any]:
    tag = _pool_rng(request).randrange(10**6)
    function = function_catalog({"messages": [{"content": "Name: Extra"}]})["functions"][0]
    return {"function": {**function, "name": f"listExtra{tag}", "path": f"/extra{tag}"}}


def new_parameter(request: dict[str, Any]) -> dict[str, Any]:
    rng = _pool_rng(request)
    (extra,) = _inputs(random.Random(rng.random()))[:1]
    return {
        "function": _choice(request, "function"),
        "parameter": {**extra, "name": f"{extra['name']}{rng.randrange(100)}"},
    }


def constraint(request: dict[str, Any]) -> dict[str, Any]:
    """A constraint on a parameter the schema offers that the prompt shows without one, drawn by the
    request: a range for a number, allowed values or a format for a string."""
    rng, offered = _pool_rng(request), set(_schema(request)["properties"]["parameter"]["enum"])
    open_ = [
        (function, name, kind)
        for function, parameters in _functions_shown(request).items()
        for name, kind, extras in parameters
        if name in offered and not extras and kind in {"string", "integer", "number"}
    ]
    if not open_:
        return {"function": _choice(request, "function"), "parameter": _choice(request, "parameter")}
    function, name, kind = rng.choice(open_)
    if kind in {"integer", "number"}:
        return {"function": function, "parameter": name, "minimum": 0, "maximum": 1000}
    if rng.random() < 0.5:
        return {"function": function, "parameter": name, "format": rng.choice(["date", "uuid", "email"])}
    return {"function": function, "parameter": name, "enum": ["en", "fr", "de", "standard", "express"]}


def nested_parameter(request: dict[str, Any]) -> dict[str, Any]:
    rng = _pool_rng(request)
    return {
        "function": _choice(request, "function"),
        "name": f"filter{rng.randrange(100)}",
        "description": "Conditions the results must meet",
        "container": rng.choice(["object", "array"]),
        "properties": [
            {"name": "field", "type": "string", "description": "The field to test", "required": True},
            {"name": "value", "type": "number", "description": "The value to compare with"},
            {"name": "tags", "type": "array", "items_type": "string", "description": "Tags to match"},
        ],
    }


def new_return(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "function": _choice(request, "function"),
        "response_description": "The matching items with their details",
        "nested": {
            "name": "items",
            "container": _pool_rng(request).choice(["object", "array"]),
            "description": "The items",
            "fields": [
                {"name": "id", "type": "string", "description": "Item id"},
                {"name": "score", "type": "number", "description": "Relevance"},
            ],
        },
        "fields": [{"name": "total", "type": "integer", "description": "Number of items"}],
    }


RESPONDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "Introduction": introduction,
    "FunctionCatalog": function_catalog,
    "InstructionBatch": instruction_batch,
    "NonToolBatch": instruction_batch,
    "AssistantTurn": assistant_turn,
    "UserReply": user_reply,
    "FollowUp": follow_up,
    "ExecutorAnswer": executor_answer,
    "JudgeVerdicts": judge_verdicts,
    "TrajectoryJudgement": trajectory_judgement,
    "TaxonomyGrowth": taxonomy_growth,
    "APIDraft": api_draft,
    "NewFunction": new_function,
    "NewParameter": new_parameter,
    "Constraint": constraint,
    "NestedParameter": nested_parameter,
    "NewReturn": new_return,
}


PROBE_ANSWER = "OK"
"""The answer to a request that asks for no structured output: the model check before a run."""


Responders = dict[str, Callable[[dict[str, Any]], dict[str, Any]]]


def _answer(responders: Responders, request: dict[str, Any]) -> str | dict[str, Any]:
    name = schema_name(request)
    if request.get("tools"):
        return native_assistant(request)
    if not name and not request.get("response_format"):
        return react_step(request) if "Work in steps, in this format:" in _text(request) else PROBE_ANSWER
    if name not in responders:
        raise KeyError(f"no canned answer for schema {name!r}")
    return json.dumps(responders[name](request))


def varied(request: dict[str, Any]) -> str | dict[str, Any]:
    """Like `toolforge`, but the assistant's answers vary (`varied_assistant_turn`)."""
    return _answer(
        {**RESPONDERS, "AssistantTurn": varied_assistant_turn, "JudgeVerdicts": varied_judge}, request
    )


def grounded(request: dict[str, Any]) -> str | dict[str, Any]:
    """Like `toolforge`, but the assistant's argument values follow the request (`assistant_turn`
    grounded): a corpus a model can learn the calls from, for the training benchmark."""
    return _answer({**RESPONDERS, "AssistantTurn": functools.partial(assistant_turn, grounded=True)}, request)


def toolforge(request: dict[str, Any]) -> str | dict[str, Any]:
    """The answer to one chat-completion request body: message content (JSON text), or a message with
    tool calls for a request with `tools`."""
    return _answer(RESPONDERS, request)
