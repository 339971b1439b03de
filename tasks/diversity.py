"""Counting a run's diversity figures (`schemas/diversity.py`), one tool and one dialogue at a time.

`DiversityCounter` takes the run's tools and accepted dialogues as they stream past and keeps only
counts, plus, for distinct-n, the set of n-grams seen. Each n-gram is kept as a 64-bit hash
(blake2b, `digest_size=8`, of its words joined by a space) instead of its text: a set of ints, a
fraction of the memory of the strings, and the same in every process. Two n-grams share a hash with
a probability of about k²/2⁶⁵ for k distinct n-grams (below 10⁻⁶ for 6 million): a distinct-n may
be low by such a collision, never high. `diversity_of_run` reads a stored run part by part.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any, get_args

from schemas.complexity import BANDS
from schemas.dialog import Dialog, DialogType
from schemas.diversity import (
    CALL_BUCKETS,
    FUNCTION_BUCKETS,
    CallsPerDialog,
    Categories,
    Distinctness,
    Diversity,
    FunctionsPerTool,
    ParameterTypes,
)
from schemas.react import react_turns
from schemas.spec import function_tools
from schemas.tool import ParameterDoc, Tool
from storage.run_store import RunStore

WORD = re.compile(r"\w+")
"""A word token (letters, digits and `_`, any script); texts are lowercased first."""
NGRAM_SIZES = (1, 2, 3)
CONSTRAINTS = frozenset(
    {
        "enum",
        "const",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "pattern",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
    }
)
"""JSON schema keywords that restrict a parameter's values beyond its type."""
_COMBINATIONS = ("anyOf", "oneOf", "allOf")
_MAX_DEPTH = 32


def ngram_hash(words: tuple[str, ...] | list[str]) -> int:
    """The 64-bit hash an n-gram is kept as."""
    digest = hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class DistinctCounter:
    """Distinct-1/2/3 of a stream of texts: counts and sets of n-gram hashes (`ngram_hash`)."""

    def __init__(self) -> None:
        self.count = 0
        self.tokens = 0
        self.totals = dict.fromkeys(NGRAM_SIZES, 0)
        self.seen: dict[int, set[int]] = {n: set() for n in NGRAM_SIZES}

    def add(self, text: str) -> None:
        """Count one text."""
        words = WORD.findall(text.lower())
        self.count += 1
        self.tokens += len(words)
        for n in NGRAM_SIZES:
            for start in range(len(words) - n + 1):
                self.totals[n] += 1
                self.seen[n].add(ngram_hash(words[start : start + n]))

    def figures(self) -> Distinctness:
        ratio = {n: len(self.seen[n]) / self.totals[n] if self.totals[n] else 0.0 for n in NGRAM_SIZES}
        return Distinctness(
            count=self.count,
            tokens=self.tokens,
            distinct_1=ratio[1],
            distinct_2=ratio[2],
            distinct_3=ratio[3],
        )


class DiversityCounter:
    """The diversity figures of a run, counted as its tools and accepted dialogues are added (the caller
    adds only accepted dialogues). Memory: counts, and one set of 64-bit ints per n-gram size."""

    def __init__(self) -> None:
        self.requests = DistinctCounter()
        self.answers = DistinctCounter()
        self.functions: Counter[int] = Counter()  # tools by number of functions
        self.parameters: Counter[str] = Counter()
        self.categories: Counter[str] = Counter()
        self.dialog_types: Counter[str] = Counter()
        self.bands: Counter[str] = Counter()
        self.calls: Counter[int] = Counter()  # dialogues by number of calls

    def add_tool(self, tool: Tool) -> None:
        """Count one tool: its functions, their parameters and its category."""
        functions = tool_functions(tool)
        self.functions[len(functions)] += 1
        self.categories[tool.category] += 1
        for parameters in functions:
            for schema in parameters:
                self.parameters.update(parameter_figures(schema))

    def add_dialog(self, dialog: Dialog) -> None:
        """Count one accepted dialogue: its requests, answers, type, band and calls."""
        turns = react_turns(dialog.messages)
        requests = [turn.request for turn in turns] or [dialog.instruction]
        answers = [turn.final_answer for turn in turns if turn.final_answer] or [dialog.final_answer]
        for request in requests:
            self.requests.add(request)
        for answer in answers:
            if answer.strip():
                self.answers.add(answer)
        self.dialog_types[dialog.dialog_type] += 1
        self.bands[dialog.complexity_band] += 1
        self.calls[dialog.calls] += 1

    def figures(self) -> Diversity:
        """The figures of what was added so far."""
        tools = sum(self.functions.values())
        dialogs = sum(self.calls.values())
        return Diversity(
            tools=tools,
            dialogs=dialogs,
            requests=self.requests.figures(),
            answers=self.answers.figures(),
            functions_per_tool=FunctionsPerTool(
                mean=_mean(self.functions),
                min=min(self.functions, default=0),
                max=max(self.functions, default=0),
                histogram=_histogram(self.functions, FUNCTION_BUCKETS),
            ),
            parameter_types=ParameterTypes(**self.parameters),
            categories=category_spread(self.categories),
            dialog_types=_with_zeros(self.dialog_types, get_args(DialogType)),
            complexity_bands=_with_zeros(self.bands, BANDS),
            calls_per_dialog=CallsPerDialog(
                mean=_mean(self.calls), histogram=_histogram(self.calls, CALL_BUCKETS)
            ),
        )


def diversity_of_run(store: RunStore, run_id: str) -> Diversity:
    """The diversity figures of a stored run: its `tools` and its accepted `dialogs`, read part by part
    (a run without one of them counts none)."""
    counter = DiversityCounter()
    for tool in store.iter_records(run_id, "tools", Tool):
        counter.add_tool(tool)
    for dialog in store.iter_records(run_id, "dialogs", Dialog):
        counter.add_dialog(dialog)
    return counter.figures()


def tool_functions(tool: Tool) -> list[list[dict[str, Any]]]:
    """A tool's functions, each as the JSON schemas of its parameters: from its OpenAPI spec (what the
    assistant is offered), else, when the spec cannot be read, from its function documentation."""
    try:
        spec = json.loads(tool.openapi)
        functions = function_tools(spec) if isinstance(spec, dict) else []
    except ValueError:
        functions = []
    if functions:
        return [
            [s for s in (f["function"]["parameters"].get("properties") or {}).values() if isinstance(s, dict)]
            for f in functions
        ]
    return [[_doc_schema(p) for p in function.parameters] for function in tool.functions]


def _doc_schema(parameter: ParameterDoc) -> dict[str, Any]:
    """The JSON schema of a documented parameter."""
    schema: dict[str, Any] = {"type": parameter.type}
    if parameter.items_type:
        schema["items"] = {"type": parameter.items_type}
    if parameter.enum:
        schema["enum"] = parameter.typed_enum()
    return schema


def parameter_figures(schema: dict[str, Any]) -> dict[str, int]:
    """What one parameter adds to `ParameterTypes`: `total`, its type, and `nested`, `with_constraint`."""
    kind = schema_kind(schema)
    found = {"total": 1, kind: 1}
    if kind in {"array", "object"} and any(
        schema_kind(variant) in {"array", "object"}
        for child in _children(schema)
        for variant in _variants(child)
    ):
        found["nested"] = 1
    if any(CONSTRAINTS & set(sub) for sub in _walk(schema)):
        found["with_constraint"] = 1
    return found


def schema_kind(schema: dict[str, Any]) -> str:
    """The `ParameterTypes` field a schema counts under: string, number (number or integer), boolean,
    array, object, or other. Without a `type`: object for `properties`, array for `items`, else the kind
    of its first typed `anyOf`/`oneOf`/`allOf` variant."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        for variant in _variants(schema)[1:]:
            if (found := schema_kind(variant)) != "other":
                return found
        return "other"
    if kind == "integer":
        return "number"
    return kind if kind in {"string", "number", "boolean", "array", "object"} else "other"


def _variants(schema: dict[str, Any], depth: int = 0) -> list[dict[str, Any]]:
    """The schema and the `anyOf`/`oneOf`/`allOf` schemas it combines (at its own level)."""
    found = [schema]
    if depth < _MAX_DEPTH:
        for key in _COMBINATIONS:
            for variant in schema.get(key) or []:
                if isinstance(variant, dict):
                    found += _variants(variant, depth + 1)
    return found


def _children(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas one level inside a schema (and inside its variants): items, properties, ..."""
    found: list[dict[str, Any]] = []
    for variant in _variants(schema):
        for key in ("items", "prefixItems", "additionalProperties"):
            value = variant.get(key)
            found += value if isinstance(value, list) else [value]
        for key in ("properties", "patternProperties"):
            value = variant.get(key)
            found += list(value.values()) if isinstance(value, dict) else []
    return [child for child in found if isinstance(child, dict)]


def _walk(schema: dict[str, Any], depth: int = 0) -> Iterator[dict[str, Any]]:
    """The schema and every schema inside it, at any depth."""
    yield schema
    if depth < _MAX_DEPTH:
        for variant in _variants(schema)[1:]:
            yield from _walk(variant, depth + 1)
        for child in _children(schema):
            yield from _walk(child, depth + 1)


def category_spread(tools: Counter[str]) -> Categories:
    """Tools per category, with the Shannon entropy of the spread (bits) and the entropy over its most,
    log2 of the categories (0.0 for fewer than 2 categories)."""
    counts = {name: count for name, count in sorted(tools.items()) if count > 0}
    total = sum(counts.values())
    entropy = math.fsum((c / total) * math.log2(total / c) for c in counts.values())
    normalized = min(entropy / math.log2(len(counts)), 1.0) if len(counts) > 1 else 0.0
    return Categories(count=len(counts), tools=counts, entropy_bits=entropy, normalized_entropy=normalized)


def _mean(counts: Counter[int]) -> float:
    """The mean of the values counted (value -> how many times)."""
    total = sum(counts.values())
    return sum(value * times for value, times in counts.items()) / total if total else 0.0


def _histogram(counts: Counter[int], buckets: tuple[str, ...]) -> dict[str, int]:
    """`counts` (value -> how many) into `buckets`: one per value, the last `N+` for N and above."""
    top = int(buckets[-1].rstrip("+"))
    histogram = dict.fromkeys(buckets, 0)
    for value, times in counts.items():
        key = buckets[-1] if value >= top else str(value)
        if key in histogram:
            histogram[key] += times
    return histogram


def _with_zeros(counts: Counter[str], keys: tuple[str, ...]) -> dict[str, int]:
    """Every key, 0 when not counted, then any other value counted."""
    return {**dict.fromkeys(keys, 0), **counts}


def diversity_markdown(d: Diversity) -> str:
    """The figures as a section of the run's report: "## Diversity" and a few small tables."""
    p, f, c = d.parameter_types, d.functions_per_tool, d.categories
    lines = [
        "## Diversity",
        "",
        f"Tools: {d.tools}; accepted dialogues: {d.dialogs}. Distinct-n: distinct n-grams / n-grams "
        "(lowercase words, whole corpus).",
        "",
        "| texts | count | words | distinct-1 | distinct-2 | distinct-3 |",
        "|---|--:|--:|--:|--:|--:|",
        *(
            f"| {name} | {t.count} | {t.tokens} | "
            f"{t.distinct_1:.3f} | {t.distinct_2:.3f} | {t.distinct_3:.3f} |"
            for name, t in (("requests", d.requests), ("answers", d.answers))
        ),
        "",
        f"Functions per tool: mean {f.mean:.2f}, min {f.min}, max {f.max}.",
        "",
        *_row_table("functions", "tools", f.histogram),
        "",
        *_row_table("parameters", "count", p.model_dump()),
        "",
        f"Categories: {c.count}, entropy {c.entropy_bits:.2f} bits, normalized {c.normalized_entropy:.2f}.",
        "",
        "| category | tools |",
        "|---|--:|",
        *_category_rows(c.tools),
        "",
        *_row_table("dialogue type", "dialogues", d.dialog_types),
        "",
        *_row_table("complexity band", "dialogues", d.complexity_bands),
        "",
        f"Calls per dialogue: mean {d.calls_per_dialog.mean:.2f}.",
        "",
        *_row_table("calls", "dialogues", d.calls_per_dialog.histogram),
    ]
    return "\n".join(lines) + "\n"


def _row_table(what: str, counted: str, values: dict[str, Any]) -> list[str]:
    """A two-row table: the keys as columns, `counted` and the values as the row."""
    keys = [_cell(str(k).replace("_", " ")) for k in values]
    return [
        f"| {what} | " + " | ".join(keys) + " |",
        "|---|" + "--:|" * len(keys),
        f"| {counted} | " + " | ".join(str(v) for v in values.values()) + " |",
    ]


def _category_rows(tools: dict[str, int], top: int = 10) -> list[str]:
    """The `top` categories with the most tools, and one row for the rest."""
    ranked = sorted(tools.items(), key=lambda item: (-item[1], item[0]))
    rows = [f"| {_cell(name) or '(none)'} | {count} |" for name, count in ranked[:top]]
    rest = ranked[top:]
    if rest:
        rows.append(f"| {len(rest)} more | {sum(count for _, count in rest)} |")
    return rows


def _cell(text: str) -> str:
    """Text fit for a table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")
