"""A sampler of small, valid instances of JSON schemas, for fake LLM answers in tests and benchmarks.

`sample_from_schema` walks a schema as pydantic v2's `model_json_schema()` writes it (root-level
`$defs` reached by `$ref`, `anyOf` for Optional fields, `enum`/`const` for Literals, string, number
and array constraints) and builds one instance that validates against it. Strings read like text
("sample city 1") rather than "string"; a `pattern` is honoured by generating from the parsed regex
and checking the result with `re.search`. The output depends only on the schema and the `rng`.

Standard library only.
"""

from __future__ import annotations

import math
import re
import string
import uuid
from collections.abc import Callable, Iterator, Sequence
from random import Random
from re import _constants as sre_constants  # private, but stable within Python 3.11
from re import _parser as sre_parse
from typing import Any

__all__ = ["SchemaSampleError", "sample_from_schema"]

MAX_REF_DEPTH = 32
"""Nested `$ref` expansions after which sampling gives up (a schema that recurses without an exit)."""
LIMIT_REF_DEPTH = 8
"""Nested `$ref` expansions after which the sampler keeps instances minimal, so recursion ends."""
LIMIT_REF_REPEATS = 2
"""Times one `$ref` may be open at once (a recursive model) before instances are kept minimal."""

_PRINTABLE = string.ascii_letters + string.digits + string.punctuation + " "
_PREFERRED = string.ascii_lowercase + string.digits
_FILLER = " lorem ipsum dolor sit amet"
_REPEAT_EXTRAS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)
_FORMAT_SAMPLES: dict[str, Callable[[str, int, Random], str]] = {
    "date-time": lambda _n, i, _r: f"2024-01-{1 + i % 28:02d}T12:00:00Z",
    "date": lambda _n, i, _r: f"2024-01-{1 + i % 28:02d}",
    "time": lambda _n, i, _r: f"12:{i % 60:02d}:00",
    "duration": lambda _n, i, _r: f"PT{i}H",
    "email": lambda n, i, _r: f"{n}{i}@example.com",
    "idn-email": lambda n, i, _r: f"{n}{i}@example.com",
    "uri": lambda n, i, _r: f"https://example.com/{n}/{i}",
    "iri": lambda n, i, _r: f"https://example.com/{n}/{i}",
    "uri-reference": lambda n, i, _r: f"/{n}/{i}",
    "hostname": lambda n, i, _r: f"{n}{i}.example.com",
    "uuid": lambda _n, _i, r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "ipv4": lambda _n, i, _r: f"192.0.2.{1 + i % 254}",
    "ipv6": lambda _n, i, _r: f"2001:db8::{1 + i % 65535:x}",
}


class SchemaSampleError(ValueError):
    """A schema (or a part of it, named by its path) that the sampler cannot build an instance of."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot sample {path or '<root>'}: {reason}")
        self.path = path
        self.reason = reason


def sample_from_schema(
    schema: dict[str, Any], *, rng: Random, path: str = "", words: Sequence[str] = ()
) -> Any:
    """A small instance of `schema` (a JSON schema dict, `$ref`s resolved against its own `$defs`).

    Every required property is present, optional ones too (until recursion forces minimal
    instances), arrays hold one item unless `minItems`/`maxItems` say otherwise, and `anyOf`/`oneOf`
    take their first non-null branch. `path` names the root in generated text and in errors. With
    `words` (those of a user's request, say), a free string (no pattern, no format) is one of them and
    an unbounded number a small integer: the values a real assistant would take from the dialogue.
    Raises `SchemaSampleError` for what it cannot satisfy (an unsupported regex, contradictory
    bounds, a `$ref` that does not resolve, unbounded recursion).
    """
    return _Sampler(root=schema, rng=rng, words=words).sample(schema, path)


class _Sampler:
    """The state of one `sample_from_schema` call: the root schema, the rng and the text counter."""

    def __init__(self, *, root: dict[str, Any], rng: Random, words: Sequence[str] = ()) -> None:
        self.root = root
        self.rng = rng
        self.words = list(words)
        self.counter = 0
        self.open_refs: list[str] = []

    @property
    def minimal(self) -> bool:
        """Whether recursion is deep enough that optional content should be left out."""
        if len(self.open_refs) >= LIMIT_REF_DEPTH:
            return True
        return any(self.open_refs.count(ref) >= LIMIT_REF_REPEATS for ref in set(self.open_refs))

    def next_index(self) -> int:
        """A running number that keeps generated strings distinct: 1, 2, 3, ..."""
        self.counter += 1
        return self.counter

    def sample(self, schema: dict[str, Any] | bool, path: str) -> Any:
        """An instance of `schema`, found at `path` within the root."""
        if schema is True or schema == {}:
            return self.sample_string({}, path)
        if schema is False:
            raise SchemaSampleError(path, "the schema `false` admits no value")
        if not isinstance(schema, dict):
            raise SchemaSampleError(path, f"a schema must be an object, not {type(schema).__name__}")
        if "$ref" in schema:
            return self.sample_ref(schema, path)
        if "allOf" in schema:
            return self.sample(self.merge_all_of(schema, path), path)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.sample_enum(schema, path)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.sample(self.pick_branch(schema[key], path), path)
        return self.sample_typed(schema, path)

    def sample_ref(self, schema: dict[str, Any], path: str) -> Any:
        """An instance of the schema a `$ref` points to (sibling keywords override the target's)."""
        if len(self.open_refs) >= MAX_REF_DEPTH:
            raise SchemaSampleError(path, f"more than {MAX_REF_DEPTH} nested $refs (unbounded recursion?)")
        ref = schema["$ref"]
        target = self.resolve(ref, path)
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        self.open_refs.append(ref)
        try:
            return self.sample(merged, path)
        finally:
            self.open_refs.pop()

    def resolve(self, ref: str, path: str) -> dict[str, Any]:
        """The subschema of the root named by a local JSON pointer such as `#/$defs/Name`."""
        if not ref.startswith("#"):
            raise SchemaSampleError(path, f"only local $refs are supported, not {ref!r}")
        node: Any = self.root
        for raw in [part for part in ref[1:].split("/") if part]:
            key = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or key not in node:
                raise SchemaSampleError(path, f"$ref {ref!r} does not resolve")
            node = node[key]
        if not isinstance(node, dict):
            raise SchemaSampleError(path, f"$ref {ref!r} does not point to a schema")
        return node

    def merge_all_of(self, schema: dict[str, Any], path: str) -> dict[str, Any]:
        """One schema equivalent (for sampling) to `schema` with its `allOf` parts folded in."""
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            resolved = self.resolve(part["$ref"], path) if "$ref" in part else part
            if "allOf" in resolved:
                resolved = self.merge_all_of(resolved, path)
            for key, value in resolved.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required":
                    merged["required"] = sorted({*merged.get("required", []), *value})
                else:
                    merged.setdefault(key, value)
        return merged

    def pick_branch(self, branches: list[dict[str, Any]], path: str) -> dict[str, Any]:
        """The `anyOf`/`oneOf` branch to sample: the first non-null one, or null once minimal."""
        if not branches:
            raise SchemaSampleError(path, "empty anyOf/oneOf")
        non_null = [b for b in branches if not _is_null_schema(b)]
        if non_null and not (self.minimal and len(non_null) < len(branches)):
            return non_null[0]
        return {"type": "null"}

    def sample_enum(self, schema: dict[str, Any], path: str) -> Any:
        """One of the values of an `enum`."""
        values = schema["enum"]
        if not values:
            raise SchemaSampleError(path, "empty enum")
        return self.rng.choice(values)

    def sample_typed(self, schema: dict[str, Any], path: str) -> Any:
        """An instance of a schema described by `type` (or by keywords that imply one)."""
        kind = _schema_type(schema)
        if kind is None:
            if "default" in schema:
                return schema["default"]
            return self.sample_string({}, path)
        handlers: dict[str, Callable[[dict[str, Any], str], Any]] = {
            "object": self.sample_object,
            "array": self.sample_array,
            "string": self.sample_string,
            "integer": self.sample_integer,
            "number": self.sample_number,
            "boolean": lambda _s, _p: self.rng.random() < 0.5,
            "null": lambda _s, _p: None,
        }
        if kind not in handlers:
            raise SchemaSampleError(path, f"unknown type {kind!r}")
        return handlers[kind](schema, path)

    def sample_object(self, schema: dict[str, Any], path: str) -> dict[str, Any]:
        """An object with every required property, optional ones unless minimal, and map entries."""
        required = set(schema.get("required", []))
        result: dict[str, Any] = {}
        for name, subschema in schema.get("properties", {}).items():
            if name in required or not self.minimal:
                result[name] = self.sample(subschema, _join(path, name))
        extra = schema.get("additionalProperties", True)
        wanted = max(schema.get("minProperties", 0), 0 if "properties" in schema or self.minimal else 1)
        if extra is False:
            return result
        value_schema = extra if isinstance(extra, dict) else {}
        while len(result) < wanted:
            key = self.sample_key(schema.get("propertyNames", {}), path, len(result))
            result[key] = self.sample(value_schema, _join(path, key))
        return result

    def sample_key(self, schema: dict[str, Any], path: str, position: int) -> str:
        """A key for a map-like object, valid for its `propertyNames` schema."""
        if schema:
            key = self.sample(schema, f"{path}[key]")
            if not isinstance(key, str):
                raise SchemaSampleError(path, "propertyNames must describe strings")
            return key
        return f"{_name_of(path).replace(' ', '_')}_key_{position + 1}"

    def sample_array(self, schema: dict[str, Any], path: str) -> list[Any]:
        """An array of one item (or `minItems`, or fewer when `maxItems` says so)."""
        low = schema.get("minItems", 0)
        high = schema.get("maxItems")
        if high is not None and high < low:
            raise SchemaSampleError(path, f"maxItems {high} < minItems {low}")
        prefix = schema.get("prefixItems", [])
        count = low if self.minimal else max(low, 1)
        count = max(count, len(prefix)) if high is None else min(max(count, len(prefix)), high)
        items = schema.get("items", {})
        if count > len(prefix) and items is False:
            raise SchemaSampleError(path, "more items needed than prefixItems allows")
        result: list[Any] = []
        for index in range(count):
            item_schema = prefix[index] if index < len(prefix) else items
            item_path = f"{path}[{index}]"
            value = self.sample(item_schema, item_path)
            if schema.get("uniqueItems"):
                value = self.distinct_item(item_schema, item_path, value, result)
            result.append(value)
        return result

    def distinct_item(self, schema: dict[str, Any], path: str, value: Any, taken: list[Any]) -> Any:
        """`value`, or another sample of `schema`, that does not repeat an item of `taken`."""
        for _ in range(50):
            if value not in taken:
                return value
            value = self.sample(schema, path)
        raise SchemaSampleError(path, "could not generate distinct items for uniqueItems")

    def sample_string(self, schema: dict[str, Any], path: str) -> str:
        """A text-like string honouring `pattern`, `format`, `minLength` and `maxLength`."""
        index = self.next_index()
        name = _name_of(path)
        low = schema.get("minLength", 0)
        high = schema.get("maxLength")
        if high is not None and high < low:
            raise SchemaSampleError(path, f"maxLength {high} < minLength {low}")
        if "pattern" in schema:
            hint = f"sample_{name.replace(' ', '_')}_{index}"
            return _string_for_pattern(schema["pattern"], hint, low, high, self.rng, path)
        fmt = schema.get("format")
        if fmt in _FORMAT_SAMPLES:
            text = _FORMAT_SAMPLES[fmt](name.replace(" ", "-"), index, self.rng)
            if low <= len(text) and (high is None or len(text) <= high):
                return text
        if self.words:
            word = self.rng.choice(self.words)
            if low <= len(word) and (high is None or len(word) <= high):
                return word
        return _fit_length(f"sample {name} {index}", low, high)

    def sample_integer(self, schema: dict[str, Any], path: str) -> int:
        """A small integer within `minimum`/`maximum` (exclusive too) and a `multipleOf`."""
        low, high = _integer_bounds(schema)
        if low is not None and high is not None and low > high:
            raise SchemaSampleError(path, f"no integer in [{low}, {high}]")
        low, high = _small_window(low, high)
        value = self.rng.randint(low, high)
        step = schema.get("multipleOf")
        if step:
            value = _integer_multiple(value, int(step), low, high, path)
        return value

    def sample_number(self, schema: dict[str, Any], path: str) -> float | int:
        """A small number within the bounds (exclusive too), rounded to two decimals when that fits."""
        step = schema.get("multipleOf")
        if step:
            return self.number_multiple(schema, step, path)
        low, low_open, high, high_open = _number_bounds(schema)
        if self.words and low is None and high is None:
            return self.rng.randint(1, 10)
        window_low, window_high = _small_float_window(low, high)
        raw = self.rng.uniform(window_low, window_high)
        candidates = [round(raw, 2), raw, (window_low + window_high) / 2]
        for value in candidates:
            if _within(value, low, low_open, high, high_open):
                return value
        raise SchemaSampleError(path, f"no number fits the bounds of {schema}")

    def number_multiple(self, schema: dict[str, Any], step: float, path: str) -> float | int:
        """The smallest fitting multiple of `step` at or above the lower bound (or 1×step)."""
        low, low_open, high, high_open = _number_bounds(schema)
        start = math.ceil(low / step) if low is not None else 1
        for factor in range(start, start + 3):
            value = factor * step
            if _within(value, low, low_open, high, high_open):
                return value
        raise SchemaSampleError(path, f"no multiple of {step} fits the bounds of {schema}")


def _is_null_schema(schema: Any) -> bool:
    """Whether a schema only admits null (the second branch of a pydantic Optional)."""
    return isinstance(schema, dict) and (schema.get("type") == "null" or schema.get("const", 0) is None)


def _schema_type(schema: dict[str, Any]) -> str | None:
    """The JSON type a schema describes: its `type` (first non-null of a list) or one implied."""
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        return non_null[0] if non_null else ("null" if kind else None)
    if kind is not None:
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("pattern", "minLength", "maxLength", "format")):
        return "string"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return "number"
    return None


def _join(path: str, name: str) -> str:
    """The path of property `name` of the object at `path`."""
    return f"{path}.{name}" if path else name


def _name_of(path: str) -> str:
    """A human name for the value at `path`: its last property name, without indexes or underscores."""
    last = path.rsplit(".", 1)[-1]
    name = re.sub(r"\[[^\]]*\]", "", last).replace("_", " ").strip()
    return name or "text"


def _fit_length(text: str, low: int, high: int | None) -> str:
    """`text` padded with filler words up to `low` characters and cut to `high`."""
    while len(text) < low:
        text += _FILLER
    if high is not None and len(text) > high:
        text = text[:high]
    if len(text) < low:
        text = text.ljust(low, "x")
    return text


def _integer_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None]:
    """The inclusive integer bounds of a schema (`None` where unbounded)."""
    low, low_open, high, high_open = _number_bounds(schema)
    int_low = None if low is None else (math.floor(low) + 1 if low_open else math.ceil(low))
    int_high = None if high is None else (math.ceil(high) - 1 if high_open else math.floor(high))
    return int_low, int_high


def _number_bounds(schema: dict[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """(low, whether low is exclusive, high, whether high is exclusive) of a numeric schema."""
    low, low_open = _stricter_bound(schema.get("minimum"), schema.get("exclusiveMinimum"), lower=True)
    high, high_open = _stricter_bound(schema.get("maximum"), schema.get("exclusiveMaximum"), lower=False)
    return low, low_open, high, high_open


def _stricter_bound(
    inclusive: float | None, exclusive: float | bool | None, *, lower: bool
) -> tuple[float | None, bool]:
    """The tighter of an inclusive and an exclusive bound, as (value, is exclusive).

    A boolean `exclusive` is the draft-4 form: it makes the inclusive bound exclusive.
    """
    if isinstance(exclusive, bool):
        return inclusive, exclusive and inclusive is not None
    if exclusive is None:
        return inclusive, False
    if inclusive is None:
        return exclusive, True
    exclusive_is_tighter = exclusive >= inclusive if lower else exclusive <= inclusive
    return (exclusive, True) if exclusive_is_tighter else (inclusive, False)


def _within(value: float, low: float | None, low_open: bool, high: float | None, high_open: bool) -> bool:
    """Whether `value` lies within the (possibly open, possibly absent) bounds."""
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return not (high is not None and (value > high or (high_open and value == high)))


def _small_window(low: int | None, high: int | None) -> tuple[int, int]:
    """An inclusive integer range of at most 11 values within the bounds, near 1 when unbounded."""
    if low is None and high is None:
        return 1, 10
    if low is None:
        assert high is not None
        return (max(high - 10, 1), high) if high >= 1 else (high - 10, high)
    if high is None:
        return low, low + 10
    return low, min(high, low + 10)


def _small_float_window(low: float | None, high: float | None) -> tuple[float, float]:
    """A range of numbers within the bounds to draw from, near [0, 10] when unbounded."""
    if low is None and high is None:
        return 0.0, 10.0
    if low is None:
        assert high is not None
        return high - 10.0, high
    if high is None:
        return low, low + 10.0
    return low, min(high, low + 10.0)


def _integer_multiple(value: int, step: int, low: int, high: int, path: str) -> int:
    """The multiple of `step` nearest above `value` (or below, if above leaves [low, high])."""
    for candidate in (math.ceil(value / step) * step, math.floor(value / step) * step):
        if low <= candidate <= high:
            return candidate
    raise SchemaSampleError(path, f"no multiple of {step} in [{low}, {high}]")


def _string_for_pattern(pattern: str, hint: str, low: int, high: int | None, rng: Random, path: str) -> str:
    """A string that `re.search(pattern, ...)` matches, within the length bounds, text-like if it can."""
    try:
        compiled = re.compile(pattern)
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        raise SchemaSampleError(path, f"pattern {pattern!r} is not a Python regex: {exc}") from exc
    for extra in (None, *_REPEAT_EXTRAS):
        generator = _RegexGenerator(rng=rng, hint=hint, extra=extra)
        try:
            core = generator.generate(parsed)
        except _UnsupportedRegex as exc:
            raise SchemaSampleError(path, f"pattern {pattern!r} uses {exc}, which is not supported") from exc
        for candidate in _pattern_candidates(core, generator.rest_of_hint(), low, high):
            if (
                compiled.search(candidate)
                and low <= len(candidate)
                and (high is None or len(candidate) <= high)
            ):
                return candidate
    raise SchemaSampleError(
        path, f"could not generate a string of length [{low}, {high}] matching pattern {pattern!r}"
    )


def _pattern_candidates(core: str, rest: str, low: int, high: int | None) -> Iterator[str]:
    """Strings to try for a pattern: the generated core with the unused hint appended, then bare."""
    for text in (core + rest, core):
        yield text
        if len(text) < low:
            yield _fit_length(text, low, high).replace(" ", "_")
        if high is not None and len(text) > high:
            yield text[:high]


class _UnsupportedRegex(Exception):
    """A regex construct the generator cannot produce text for."""


class _RegexGenerator:
    """Produces one string from a regex parsed by `re._parser`, preferring the characters of a hint.

    `extra` is how many repetitions above the minimum each quantifier takes; `None` means "follow
    the hint": a quantified character class repeats for as long as the hint's next characters fit.
    """

    def __init__(self, *, rng: Random, hint: str, extra: int | None) -> None:
        self.rng = rng
        self.hint = hint
        self.position = 0
        self.extra = extra
        self.groups: dict[int, str] = {}

    def rest_of_hint(self) -> str:
        """The part of the hint not used by the generated characters."""
        return self.hint[self.position :]

    def generate(self, parsed: Any) -> str:
        """The text for a sequence of parsed regex items."""
        return "".join(self.item(op, arg) for op, arg in parsed)

    def item(self, op: Any, arg: Any) -> str:
        """The text for one parsed regex item."""
        c = sre_constants
        if op is c.LITERAL:
            return self.take_hint_if(chr(arg)) or chr(arg)
        if op is c.NOT_LITERAL:
            return self.pick("".join(ch for ch in _PRINTABLE if ord(ch) != arg))
        if op is c.ANY:
            return self.pick(_PRINTABLE)
        if op is c.IN:
            return self.pick(_class_chars(arg))
        if op is c.BRANCH:
            branches = arg[1]
            return self.generate(branches[0] if self.extra is None else self.rng.choice(branches))
        if op is c.SUBPATTERN:
            group, _add_flags, _del_flags, sub = arg
            text = self.generate(sub)
            if group is not None:
                self.groups[group] = text
            return text
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            return self.repeat(*arg)
        if op is c.ATOMIC_GROUP:
            return self.generate(arg)
        if op is c.GROUPREF:
            return self.groups.get(arg, "")
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return ""  # anchors and lookarounds add no text; the final re.search checks them
        raise _UnsupportedRegex(str(op))

    def repeat(self, low: int, high: int, sub: Any) -> str:
        """The text for a quantified item: `low` repetitions plus `extra` (or as the hint fits)."""
        bound = 64 if high is sre_constants.MAXREPEAT else high
        bound = max(bound, low)
        if self.extra is None:
            parts = [self.generate(sub) for _ in range(low)]
            while len(parts) < bound and self.hint_fits(sub):
                parts.append(self.generate(sub))
            return "".join(parts)
        count = low + self.extra if high is sre_constants.MAXREPEAT else min(low + self.extra, high)
        return "".join(self.generate(sub) for _ in range(count))

    def hint_fits(self, sub: Any) -> bool:
        """Whether the next hint character fits a repeated single-character item."""
        if self.position >= len(self.hint) or len(sub) != 1:
            return False
        op, arg = sub[0]
        nxt = self.hint[self.position]
        if op is sre_constants.IN:
            return nxt in _class_chars(arg)
        if op is sre_constants.LITERAL:
            return nxt == chr(arg)
        return op is sre_constants.ANY

    def take_hint_if(self, wanted: str) -> str:
        """`wanted` if it is the next hint character (consuming it), else ""."""
        if self.position < len(self.hint) and self.hint[self.position] == wanted:
            self.position += 1
            return wanted
        return ""

    def pick(self, allowed: str) -> str:
        """One character of `allowed`: the next hint character if it fits, else a plain one."""
        if not allowed:
            raise _UnsupportedRegex("a character class that matches no printable ASCII character")
        if self.position < len(self.hint) and self.hint[self.position] in allowed:
            self.position += 1
            return self.hint[self.position - 1]
        preferred = [ch for ch in _PREFERRED if ch in allowed]
        return self.rng.choice(preferred or allowed)


def _class_chars(items: list[tuple[Any, Any]]) -> str:
    """The printable ASCII characters (plus literal non-ASCII ones) a parsed `[...]` class matches."""
    c = sre_constants
    negate = False
    chars: set[str] = set()
    categories = {
        c.CATEGORY_DIGIT: string.digits,
        c.CATEGORY_NOT_DIGIT: "".join(ch for ch in _PRINTABLE if ch not in string.digits),
        c.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
        c.CATEGORY_NOT_WORD: "".join(ch for ch in _PRINTABLE if not (ch.isalnum() or ch == "_")),
        c.CATEGORY_SPACE: " ",
        c.CATEGORY_NOT_SPACE: _PRINTABLE.replace(" ", ""),
    }
    for op, arg in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            chars.add(chr(arg))
        elif op is c.RANGE:
            chars.update(chr(code) for code in range(arg[0], min(arg[1], 0x7F) + 1))
            chars.update(chr(code) for code in (arg[0], arg[1]))
        elif op is c.CATEGORY and arg in categories:
            chars.update(categories[arg])
        else:
            raise _UnsupportedRegex(f"{op} {arg} inside a character class")
    if negate:
        return "".join(ch for ch in _PRINTABLE if ch not in chars)
    return "".join(sorted(chars))
