"""Diversity figures: distinct-n of requests and answers, functions and parameter types of the tools,
the spread over categories, and the dialogues by type, band and calls; counted from hand-made records
whose figures are known."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.dialog import Dialog, Message
from schemas.diversity import Diversity
from schemas.manifest import Manifest
from schemas.tool import Tool
from storage import RunStore
from tasks.diversity import (
    DiversityCounter,
    diversity_markdown,
    diversity_of_run,
    ngram_hash,
    parameter_figures,
)
from tests.support.records import make_dialog


def operation(
    name: str, params: list[tuple[str, dict[str, Any]]] | None = None, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An OpenAPI operation with query parameters `params` ((name, schema) pairs) and a JSON body."""
    op: dict[str, Any] = {
        "operationId": name,
        "summary": f"The {name} function.",
        "parameters": [{"name": n, "in": "query", "schema": s} for n, s in params or []],
        "responses": {"200": {"description": "ok"}},
    }
    if body is not None:
        op["requestBody"] = {"content": {"application/json": {"schema": body}}}
    return op


def make_tool(tool_id: str, category: str = "Geo", operations: list[dict[str, Any]] | None = None) -> Tool:
    """A tool whose spec holds `operations` (one `operation("get")` without parameters if None)."""
    operations = operations if operations is not None else [operation("get")]
    spec = {
        "openapi": "3.0.3",
        "info": {"title": tool_id, "version": "1"},
        "paths": {
            f"/{op['operationId']}": {"post" if "requestBody" in op else "get": op} for op in operations
        },
    }
    return Tool(
        tool_id=tool_id,
        name=tool_id,
        category=category,
        description="A tool.",
        link="https://example.org",
        auth="none",
        introduction="A tool for tests.",
        functions=[],
        openapi=json.dumps(spec),
        nl_documentation="",
        routes=[],
        model="hand",
    )


def figures(tools: list[Tool] | None = None, dialogs: list[Dialog] | None = None) -> Diversity:
    """The figures of the records, counted in memory."""
    counter = DiversityCounter()
    for tool in tools or []:
        counter.add_tool(tool)
    for dialog in dialogs or []:
        counter.add_dialog(dialog)
    return counter.figures()


def test_distinct_n_counts_the_ngrams_of_the_whole_corpus():
    d = figures(dialogs=[make_dialog("t-1", "a b c", "Yes yes"), make_dialog("t-2", "A B d", "no")])
    assert d.requests.count == 2 and d.requests.tokens == 6
    assert d.requests.distinct_1 == pytest.approx(4 / 6)  # a b c d of 6 words
    assert d.requests.distinct_2 == pytest.approx(3 / 4)  # ab bc ab bd
    assert d.requests.distinct_3 == pytest.approx(2 / 2)  # abc abd
    assert d.answers.count == 2 and d.answers.tokens == 3
    assert d.answers.distinct_1 == pytest.approx(2 / 3)  # yes yes no: lowercase words
    assert d.answers.distinct_2 == pytest.approx(1 / 1) and d.answers.distinct_3 == 0.0  # no triple at all


def test_every_request_counts_and_a_reply_to_a_clarifying_question_does_not():
    dialog = make_dialog("t-1", "one two", "done", kind="multi_turn", follow_ups=("three four", "five"))
    asked = Message(role="assistant", content="Which one?", clarification=True)
    reply = Message(role="user", content="seven eight nine", clarification=True)
    dialog = dialog.model_copy(update={"messages": [dialog.messages[0], asked, reply, *dialog.messages[1:]]})
    d = figures(dialogs=[dialog])
    assert d.requests.count == 3 and d.requests.tokens == 5
    assert d.answers.count == 3 and d.answers.distinct_1 == pytest.approx(1 / 3)


def test_ngrams_are_kept_as_stable_64_bit_hashes():
    assert ngram_hash(("a", "b")) == ngram_hash(["a", "b"]) != ngram_hash(("ab",))
    assert 0 <= ngram_hash(("a",)) < 2**64


def test_parameter_types_count_nested_arrays_and_objects_and_constraints():
    ops = [
        operation(
            "search",
            [
                ("q", {"type": "string"}),
                ("limit", {"type": "integer", "minimum": 1}),
                ("ratio", {"type": "number"}),
                ("exact", {"type": "boolean"}),
                ("tags", {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}),
                ("day", {"type": "string", "format": "date"}),
            ],
        ),
        operation(
            "create",
            body={
                "type": "object",
                "properties": {
                    "place": {"type": "object", "properties": {"at": {"type": "array", "items": {}}}},
                    "points": {"type": "array", "items": {"type": "object", "properties": {}}},
                    "flat": {"type": "object", "properties": {"name": {"type": "string"}}},
                    "anything": {},
                    "maybe": {"type": ["null", "integer"], "maximum": 9},
                },
            },
        ),
    ]
    p = figures(tools=[make_tool("geo", operations=ops)]).parameter_types
    assert p.model_dump() == {
        "total": 11,
        "string": 2,
        "number": 3,
        "boolean": 1,
        "array": 2,
        "object": 2,
        "other": 1,
        "nested": 2,  # place (an array inside), points (objects inside); not tags, not flat
        "with_constraint": 4,  # limit, tags (its items' enum), day, maybe
    }


def test_a_combined_schema_counts_by_its_variants():
    nested = {"anyOf": [{"type": "null"}, {"type": "array", "items": {"oneOf": [{"type": "object"}]}}]}
    assert parameter_figures(nested) == {"total": 1, "array": 1, "nested": 1}


def test_functions_per_tool_and_their_histogram():
    tools = [
        make_tool("one"),
        make_tool("two", operations=[operation("a"), operation("b")]),
        make_tool("seven", operations=[operation(f"f{n}") for n in range(7)]),
    ]
    f = figures(tools=tools).functions_per_tool
    assert (f.mean, f.min, f.max) == (pytest.approx(10 / 3), 1, 7)
    assert f.histogram == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0, "6+": 1}


def test_two_equal_categories_have_one_bit_of_entropy():
    c = figures(tools=[make_tool("a", "Geo"), make_tool("b", "Music")]).categories
    assert (c.count, c.tools, c.entropy_bits, c.normalized_entropy) == (2, {"Geo": 1, "Music": 1}, 1.0, 1.0)


def test_one_category_has_no_entropy_and_no_division_by_zero():
    c = figures(tools=[make_tool("a", "Geo"), make_tool("b", "Geo")]).categories
    assert (c.count, c.entropy_bits, c.normalized_entropy) == (1, 0.0, 0.0)
    assert not math.copysign(1.0, c.entropy_bits) < 0  # not -0.0


def test_an_uneven_spread_has_less_than_the_most_entropy():
    tools = [make_tool(f"t{n}", category) for n, category in enumerate(["A", "A", "A", "B", "C", "D"])]
    c = figures(tools=tools).categories
    expected = -(0.5 * math.log2(0.5) + 3 * (1 / 6) * math.log2(1 / 6))
    assert c.entropy_bits == pytest.approx(expected)
    assert c.normalized_entropy == pytest.approx(expected / 2.0)


def test_dialogues_by_type_band_and_calls():
    dialogs = [
        make_dialog("t-1", calls=0, kind="non_tool"),
        make_dialog("t-2", calls=1, band="medium"),
        make_dialog("t-3", calls=2, kind="dependent", band="medium"),
        make_dialog("t-4", calls=6, kind="multi_turn", band="hard"),
    ]
    d = figures(dialogs=dialogs)
    assert d.dialogs == 4
    assert d.dialog_types == {"single": 1, "parallel": 0, "dependent": 1, "non_tool": 1, "multi_turn": 1}
    assert d.complexity_bands == {"easy": 1, "medium": 2, "hard": 1}
    assert d.calls_per_dialog.mean == pytest.approx(9 / 4)
    assert d.calls_per_dialog.histogram == {"0": 1, "1": 1, "2": 1, "3": 0, "4": 0, "5+": 1}


def test_nothing_counted_gives_zeros():
    d = figures()
    assert d == Diversity(
        dialog_types=dict.fromkeys(["single", "parallel", "dependent", "non_tool", "multi_turn"], 0),
        complexity_bands={"easy": 0, "medium": 0, "hard": 0},
    )
    assert d.requests.distinct_1 == 0.0 and d.functions_per_tool.mean == 0.0 and d.categories.count == 0
    assert "## Diversity" in diversity_markdown(d)


def _stored_run(store: RunStore, tools: list[Tool], dialogs: list[Dialog] | None) -> str:
    """A published run holding `tools` and, unless None, `dialogs`."""
    writer = store.start_run()
    writer.write_records("tools", Tool, tools)
    if dialogs is not None:
        writer.write_records("dialogs", Dialog, dialogs)
    started = datetime(2026, 1, 1, tzinfo=UTC)
    writer.write_manifest(
        Manifest(run_id=writer.run_id, started_at=started, status="completed", code_version="x")
    )
    writer.publish()
    return writer.run_id


def test_a_stored_run_is_read_part_by_part(tmp_path: Path):
    store = RunStore(str(tmp_path / "out"))
    tools = [make_tool("a", "Geo"), make_tool("b", "Music", [operation("x"), operation("y")])]
    dialogs = [make_dialog("a-1", "a b c", calls=1), make_dialog("a-2", "a b d", calls=2)]
    writer = store.start_run()
    parts = writer.parts("dialogs", Dialog, rows=1)  # one dialogue per part
    parts.add(dialogs[:1])
    parts.add(dialogs[1:])
    writer.write_records("tools", Tool, tools)
    assert len(store.part_paths(writer.run_id, "dialogs")) == 2
    assert diversity_of_run(store, writer.run_id) == figures(tools, dialogs)


def test_an_empty_run_gives_zeros_without_error(tmp_path: Path):
    store = RunStore(str(tmp_path / "out"))
    empty = _stored_run(store, [], [])
    toolset_only = _stored_run(store, [make_tool("a")], None)
    assert diversity_of_run(store, empty) == figures()
    d = diversity_of_run(store, toolset_only)
    assert (d.tools, d.dialogs, d.answers.count, d.calls_per_dialog.mean) == (1, 0, 0, 0.0)


def test_the_markdown_section_shows_the_figures():
    tools = [make_tool("a", "Geo"), make_tool("b", "Music|Audio")]
    text = diversity_markdown(figures(tools, [make_dialog("a-1", "a b c"), make_dialog("a-2", "a b d")]))
    assert text.startswith("## Diversity\n")
    assert "| requests | 2 | 6 | 0.667 | 0.750 | 1.000 |" in text
    assert "entropy 1.00 bits, normalized 1.00" in text
    assert "| Music\\|Audio | 1 |" in text  # a pipe does not break the table
    assert "| dialogue type | single | parallel | dependent | non tool | multi turn |" in text
    assert "| calls | 0 | 1 | 2 | 3 | 4 | 5+ |" in text


def test_a_tool_the_toolsmith_built_is_counted_from_its_spec(tool: Tool):
    d = figures(tools=[tool])
    assert d.functions_per_tool.max == len(tool.functions) == d.functions_per_tool.min
    assert d.parameter_types.total == sum(len(f.parameters) for f in tool.functions)
    assert d.categories.tools == {tool.category: 1}
