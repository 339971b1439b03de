"""Grounding: where a call's argument values come from (ToolAlpaca's "illusory input").

A value is grounded when the dialogue gave it before the call: a user message (a request, a reply
to a clarifying question), an earlier tool result, or the function's own default or enum (a value
inside an object or an array is held to its own property's or items' too, `leaves`); or when it
is a normalisation of one of those (case, spacing and punctuation; a number written another way,
"1,000" for 1000; an ISO date for a date the user wrote in words or relative to today). A value that
looks like a placeholder (`<city>`, `YOUR_KEY`) is never grounded. Small integers (0 to
`SMALL_CHOICE`) are a page, a count or a limit the assistant may choose: grounded too.

The rule layer (`tasks/rules.py`) rejects a dialogue with an ungrounded value; an evaluation of a
model's calls can count the same values as illusory input.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from schemas.dialog import Message

PLACEHOLDER = re.compile(
    r"<[^<>]{1,40}>|\[[a-z _]{1,30}\]|\$?\{[A-Za-z_ ]{1,40}\}|\$\{[^{}]{1,60}\}|\bX{3,}\b|\bYOUR_[A-Z_]+\b"
)
"""A value written as a slot to fill (`<id>`, `[city]`, `{user_id}`, `{start date}`, `${animeId from
searchAnime}` as ToolAlpaca's golden answers write one, `XXXX`, `YOUR_API_KEY`)."""
SMALL_CHOICE = 10
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])[-+]?\d+(?:\.\d+)?")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.]+Z?)?$")
_RELATIVE_DAYS = {"today", "tonight", "tomorrow", "yesterday", "weekend", "week", "month", "year", "now"}
_MONTHS = {name.casefold(): n for n, name in enumerate(calendar.month_name) if name} | {
    name.casefold(): n for n, name in enumerate(calendar.month_abbr) if name
}
_WEEKDAYS = {name.casefold() for name in calendar.day_name}


@dataclass(frozen=True)
class Sources:
    """What a dialogue said before one call: its words and numbers (user messages and tool results)."""

    text: str
    words: frozenset[str]
    numbers: frozenset[float]

    @classmethod
    def before(cls, messages: Sequence[Message]) -> Sources:
        """The sources among `messages` (those before the call's assistant message)."""
        said = [m.content for m in messages if m.role in ("user", "tool")]
        text = " ".join(_normalized(part) for part in said)
        numbers = frozenset(_number(found) for part in said for found in _NUMBER.findall(part))
        return cls(text=f" {text} ", words=frozenset(text.split()), numbers=numbers)


def _normalized(text: str) -> str:
    """Lowercase words separated by single spaces: how values and sources are compared."""
    return " ".join(_WORD.findall(text.casefold()))


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """The strings and numbers inside an arguments value, with their paths (`city`, `items[0].id`);
    booleans and nulls carry no claim and are left out."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield path, value


def allowed_values(parameters: dict[str, Any], path: str) -> list[Any]:
    """The default and enum values the function's schema gives the value at `path`: those of its
    top-level parameter and of every schema on the way down to the leaf (an object's property, an
    array's items), a default object's or array's own values included."""
    allowed: list[Any] = []
    for schema in _schemas_along(parameters, path):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if "default" in schema:
            default = schema["default"]
            allowed += (
                [value for _, value in leaves(default)] if isinstance(default, dict | list) else [default]
            )
        allowed += [*(schema.get("enum") or []), *(items.get("enum") or [])]
    return allowed


_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
"""One step of a `leaves` path below its parameter: `.key` or `[index]`."""


def _schemas_along(parameters: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The schemas from the top-level parameter of `path` down to its leaf, as far as they go."""
    name = re.split(r"[.\[]", path, maxsplit=1)[0]
    schema = (parameters.get("properties") or {}).get(name)
    found: list[dict[str, Any]] = []
    steps = _STEP.finditer(path, len(name))
    while isinstance(schema, dict):
        found.append(schema)
        step = next(steps, None)
        if step is None:
            break
        if step.group(1) is None:
            schema = schema.get("items")
            continue
        properties = schema.get("properties")
        schema = properties.get(step.group(1)) if isinstance(properties, dict) else None
    return found


def _date_said(value: str, sources: Sources) -> bool:
    """An ISO date (or date-time) that the sources give in another form: the day and the month in
    words or numbers, or a date relative to today ("tomorrow", "next Friday", "this weekend")."""
    found = _ISO_DATE.match(value.strip())
    if not found:
        return False
    year, month, day = (int(part) for part in found.groups())
    try:
        date(year, month, day)
    except ValueError:
        return False
    if sources.words & (_RELATIVE_DAYS | _WEEKDAYS):
        return True
    month_said = any(_MONTHS.get(word) == month for word in sources.words)
    day_said = any(word.rstrip("stndrh") == str(day) for word in sources.words)
    return (month_said and day_said) or (day in sources.numbers and month in sources.numbers)


def ungrounded(value: Any, sources: Sources, allowed: Sequence[Any] = ()) -> str | None:
    """Why `value` (a leaf of a call's arguments) is not grounded in `sources`, or None when it is."""
    if isinstance(value, str) and PLACEHOLDER.search(value):
        return "is a placeholder"
    if any(value == option or str(value).casefold() == str(option).casefold() for option in allowed):
        return None
    if isinstance(value, int | float):
        if isinstance(value, int) and 0 <= value <= SMALL_CHOICE:
            return None
        return None if float(value) in sources.numbers else "appears in no user message and no earlier result"
    text = _normalized(value)
    if not text:
        return None  # punctuation alone claims nothing
    if f" {text} " in sources.text or set(text.split()) <= sources.words:
        return None
    if _NUMBER.fullmatch(value.strip()) and _number(value.strip()) in sources.numbers:
        return None
    if _date_said(value, sources):
        return None
    return "appears in no user message and no earlier result"


def ungrounded_arguments(
    messages: Sequence[Message], parameters: dict[str, dict[str, Any]]
) -> list[tuple[str, str, Any, str]]:
    """Every ungrounded argument value of the dialogue's calls: (function, path, value, why), in order;
    `parameters` maps each offered function to its parameters' JSON schema."""
    found = []
    for index, message in enumerate(messages):
        if message.role != "assistant" or not message.tool_calls:
            continue
        sources = Sources.before(messages[:index])
        for call in message.tool_calls:
            schema = parameters.get(call.name) or {}
            for path, value in leaves(call.parsed_arguments()):
                why = ungrounded(value, sources, allowed_values(schema, path))
                if why is not None:
                    found.append((call.name, path, value, why))
    return found
