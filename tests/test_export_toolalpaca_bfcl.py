"""The ToolAlpaca and BFCL exports: renderings of hand-made dialogues, and round trips over the shared
fake-server run (every call a dialogue made comes back from the written files)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from schemas.dialog import Dialog, DialogType, Message, ToolCall, tool_message
from schemas.export import Split
from schemas.manifest import Manifest
from schemas.simulation import ASK_USER
from schemas.spec import operations
from storage import RunStore
from tasks.exports import bfcl, toolalpaca
from tasks.exports.source import ExportSource, calls_of
from tasks.split import split_tools
from tests.support.corpus_run import FakeRun
from tests.support.records import accepted_dialog

BFCL_TYPES = {"string", "integer", "float", "boolean", "array", "dict", "any"}
ENTRY_KEYS = {
    *("Name", "Description", "Link", "Category", "Introduction", "Documentation", "NLDocumentation"),
    *("Function_Description", "Function_Projection", "Instructions", "Golden_Answers", "Instances"),
    "Dialog_Ids",
}


def function(name: str, properties: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict:
    parameters = {"type": "object", "properties": properties or {}, "required": list(required)}
    return {
        "type": "function",
        "function": {"name": name, "description": f"{name}.", "parameters": parameters},
    }


FIND = function(
    "findThing",
    {"query": {"type": "string"}, "limit": {"type": "integer", "default": 10}, "ratio": {"type": "number"}},
    ("query",),
)
GET = function("getThing", {"thingId": {"type": "string"}}, ("thingId",))


def call(number: int, name: str = "findThing", **arguments: Any) -> ToolCall:
    return ToolCall(id=f"call_{number}", name=name, arguments=json.dumps(arguments))


def dialog(
    messages: list[Message],
    kind: DialogType = "single",
    tools: tuple[dict, ...] = (FIND,),
    dialog_id: str = "t-1",
) -> Dialog:
    """An accepted dialogue of tool `t` with `messages`, offered `tools`."""
    return accepted_dialog(dialog_id, "t", messages, tools, kind)


def acting(*calls: ToolCall, thought: str = "I look.") -> list[Message]:
    """An assistant message making `calls`, then their answers."""
    return [
        Message(role="assistant", thought=thought, tool_calls=list(calls)),
        *[tool_message(c, 200, {"found": c.name}) for c in calls],
    ]


def user(text: str, clarification: bool = False) -> Message:
    return Message(role="user", content=text, clarification=clarification)


def answer(text: str, thought: str = "I have it.") -> Message:
    return Message(role="assistant", content=text, thought=thought)


# ---- BFCL renderings ----


def test_bfcl_category_from_type_calls_and_functions_offered() -> None:
    one, two = call(1, query="a"), call(2, query="b")
    single = [user("find a"), *acting(one), answer("a")]
    parallel = [user("find a and b"), *acting(one, two), answer("both")]
    assert bfcl.bfcl_category(dialog(single)) == "simple_python"
    assert bfcl.bfcl_category(dialog(single, tools=(FIND, GET))) == "multiple"
    assert bfcl.bfcl_category(dialog(parallel, "parallel")) == "parallel"
    assert bfcl.bfcl_category(dialog(parallel, "parallel", (FIND, GET))) == "parallel_multiple"
    assert bfcl.bfcl_category(dialog([user("hello there"), answer("hi")], "non_tool")) == "irrelevance"
    asked = [Message(role="assistant", content="Which?", clarification=True), user("a", clarification=True)]
    follow_up = [user("and b?"), *acting(two), answer("b")]
    left_out = [
        dialog([user("find a then b"), *acting(one), *acting(two), answer("a, b")]),  # two messages
        dialog([user("find a then b"), *acting(one), *acting(two), answer("a, b")], "dependent"),
        dialog([*single, *follow_up], "multi_turn"),
        dialog([user("find it"), *asked, *acting(one), answer("a")]),
        dialog([user("hello there"), *acting(one), answer("a")], "non_tool"),
    ]
    assert [bfcl.bfcl_category(d) for d in left_out] == [None] * len(left_out)


def test_bfcl_functions_take_bfcl_types_all_the_way_down() -> None:
    nested = function(
        "plan",
        {
            "stops": {
                "type": "array",
                "items": {"type": "object", "properties": {"lat": {"type": "number"}}},
            },
            "options": {"type": "object", "properties": {"fast": {"type": "boolean"}}},
            "note": {"type": ["string", "null"]},
            "anything": {},
        },
    )
    converted = bfcl.bfcl_function(nested)
    params = converted["parameters"]
    assert params["type"] == "dict" and params["required"] == []
    assert params["properties"]["stops"] == {
        "type": "array",
        "items": {"type": "dict", "properties": {"lat": {"type": "float"}}},
    }
    assert params["properties"]["options"]["type"] == "dict"
    assert params["properties"]["note"]["type"] == "string"
    assert params["properties"]["anything"]["type"] == "any"
    bare = bfcl.bfcl_function({"type": "function", "function": {"name": "ping", "parameters": {}}})
    assert bare == {
        "name": "ping",
        "description": "",
        "parameters": {"type": "dict", "properties": {}, "required": []},
    }


def test_bfcl_ground_truth_allows_what_bfcl_allows_and_reads_back() -> None:
    find = bfcl.bfcl_function(FIND)
    truth = bfcl.ground_truth(call(1, query="cats", limit=10, ratio=2), find)
    assert truth == {"findThing": {"query": ["cats"], "limit": [10, ""], "ratio": [2.0]}}
    assert bfcl.ground_truth(call(1, query="cats"), find) == {
        "findThing": {"query": ["cats"], "limit": [""], "ratio": [""]}
    }
    shaped = {"where": {"city": "Oslo", "zip": 150}, "stops": [{"lat": 1.5}, {"lat": 2}]}
    wrapped = bfcl.ground_truth(call(1, "route", **shaped), None)["route"]
    assert wrapped == {"where": [{"city": ["Oslo"], "zip": [150]}], "stops": [[{"lat": [1.5]}, {"lat": [2]}]]}
    assert {name: bfcl.called_value(values[0]) for name, values in wrapped.items()} == shaped


def test_bfcl_rows_of_a_parallel_dialogue() -> None:
    made = dialog(
        [user("find a and b"), *acting(call(1, query="a"), call(2, query="b")), answer("both")], "parallel"
    )
    question = bfcl.question_row(made, "parallel_0")
    assert question["question"] == [[{"role": "user", "content": "find a and b"}]]
    assert [f["name"] for f in question["function"]] == ["findThing"]
    assert bfcl.answer_row(made, "parallel_0")["ground_truth"] == [
        {"findThing": {"query": ["a"], "limit": [""], "ratio": [""]}},
        {"findThing": {"query": ["b"], "limit": [""], "ratio": [""]}},
    ]


def test_bfcl_write_counts_what_it_leaves_out(tmp_path: Path) -> None:
    """A hand-made run: one dialogue of each category, and two BFCL cannot hold."""
    one, two = call(1, query="a"), call(2, query="b")
    made = [
        dialog([user("find a"), *acting(one), answer("a")]),
        dialog([user("find a"), *acting(one), answer("a")], tools=(FIND, GET)),
        dialog([user("find a and b"), *acting(one, two), answer("both")], "parallel"),
        dialog([user("find a and b"), *acting(one, two), answer("both")], "parallel", (FIND, GET)),
        dialog([user("hello there"), answer("hi")], "non_tool"),
        dialog([user("find a then b"), *acting(one), *acting(two), answer("a, b")], "dependent"),
        dialog(
            [user("find a"), *acting(one), answer("a"), user("and b?"), *acting(two), answer("b")],
            "multi_turn",
        ),
    ]
    made = [d.model_copy(update={"dialog_id": f"t-{n}"}) for n, d in enumerate(made)]
    source = hand_made_source(tmp_path, made)
    files = bfcl.write(source, tmp_path / "bfcl")
    assert source.counts == {"eval": 5, "not_in_format": 2}
    questions = {f.path: f.rows for f in files if not f.path.startswith(bfcl.ANSWERS)}
    assert questions == {bfcl.file_name(c): 1 for c in bfcl.CATEGORIES}
    assert {f.split for f in files} == {"eval"}
    assert not (tmp_path / "bfcl" / bfcl.ANSWERS / bfcl.file_name("irrelevance")).exists()
    expected = {f"{bfcl.bfcl_category(d)}_0": calls_of(d) for d in made[:5]}
    assert bfcl.read_calls(tmp_path / "bfcl") == expected


def hand_made_source(tmp_path: Path, made: list[Dialog]) -> ExportSource:
    """A published run of `made` (tool `t`), with `t` held out for evaluation."""
    store = RunStore(str(tmp_path / "out"))
    writer = store.start_run(None)
    writer.parts("dialogs", Dialog, rows=3).add(made)
    writer.close_parts()
    started = datetime(2026, 1, 1, tzinfo=UTC)
    writer.write_manifest(
        Manifest(run_id=writer.run_id, started_at=started, status="completed", code_version="x")
    )
    writer.publish()
    return ExportSource(store, writer.run_id, Split(eval_fraction=1.0, seed=0, eval_tools=["t"]))


# ---- ToolAlpaca renderings ----


def test_toolalpaca_turns_steps_and_golden_answers() -> None:
    question = Message(role="assistant", content="Which thing?", thought="It is vague.", clarification=True)
    failed = call(2, "getThing", thingId="x")
    messages = [
        user("find the thing"),
        question,
        user("the red one", clarification=True),
        *acting(call(1, query="red")),
        Message(role="assistant", thought="Now its record.", tool_calls=[failed]),
        tool_message(failed, 404, {"error": "no such thing"}),
        answer("It is not there.", thought="Nothing found."),
        user("and the blue one?"),
        *acting(call(3, query="blue"), thought=""),
        answer("Blue found.", thought=""),
    ]
    records = toolalpaca.turn_records(dialog(messages, "multi_turn", (FIND, GET)))
    assert [r[0] for r in records] == [
        "find the thing",
        "[User]: find the thing\n[AI]: Which thing?\n[User]: the red one\n[AI]: It is not there.\n"
        "[User]: and the blue one?",
    ]
    (_, golden, first), (_, second_golden, second) = records
    assert golden == [
        {"Action": "findThing", "Action_Input": '{"query": "red"}'},
        {"Action": "getThing", "Action_Input": '{"thingId": "x"}'},
    ]
    assert second_golden == [{"Action": "findThing", "Action_Input": '{"query": "blue"}'}]
    ask = json.dumps({"Question": "Which thing?"})
    assert first == {
        "input": "find the thing",
        "output": "It is not there.",
        "Final Thought": "Nothing found.",
        "intermediate_steps": [
            [[ASK_USER, ask, f" It is vague.\nAction: {ASK_USER}\nAction Input: {ask}"], "the red one"],
            [
                [
                    "findThing",
                    '{"query": "red"}',
                    ' I look.\nAction: findThing\nAction Input: {"query": "red"}',
                ],
                'Status Code: 200. Response: {"found": "findThing"}',
            ],
            [
                [
                    "getThing",
                    '{"thingId": "x"}',
                    ' Now its record.\nAction: getThing\nAction Input: {"thingId": "x"}',
                ],
                'Status Code: 404. Response: {"error": "no such thing"}',
            ],
        ],
    }
    assert second["input"] == records[1][0] and second["output"] == "Blue found."


def test_toolalpaca_non_tool_dialogue_has_no_steps() -> None:
    ((instruction, golden, instance),) = toolalpaca.turn_records(
        dialog([user("hello there"), answer("hi")], "non_tool")
    )
    assert (instruction, golden, instance["intermediate_steps"], instance["output"]) == (
        "hello there",
        [],
        [],
        "hi",
    )


# ---- Round trips over the fake-server run ----


@pytest.fixture(scope="module")
def run_tools(fake_run: FakeRun) -> list[tuple[str, str]]:
    store = RunStore(str(fake_run.out))
    return [
        (t.tool_id, t.category)
        for t in ExportSource(store, fake_run.run_id, Split(eval_fraction=0, seed=0)).tools.values()
    ]


def fresh(fake_run: FakeRun, tools: list[tuple[str, str]], eval_fraction: float = 0.2) -> ExportSource:
    return ExportSource(RunStore(str(fake_run.out)), fake_run.run_id, split_tools(tools, eval_fraction, 0))


def test_toolalpaca_round_trip(fake_run: FakeRun, run_tools: list[tuple[str, str]], tmp_path: Path) -> None:
    source = fresh(fake_run, run_tools)
    files = toolalpaca.write(source, tmp_path)
    assert [(f.path, f.split) for f in files] == [("train.json", "train"), ("eval.json", "eval")]
    again = fresh(fake_run, run_tools)
    for split in ("train", "eval"):
        dialogs = list(again.dialogs(split))
        assert dialogs, f"the fake run has no {split} dialogue"
        assert toolalpaca.read_calls(tmp_path / f"{split}.json") == {
            d.dialog_id: calls_of(d) for d in dialogs
        }
        entries = json.loads((tmp_path / f"{split}.json").read_text(encoding="utf-8"))
        assert [e["Name"] for e in entries] == [
            source.tools[t].name for t in sorted({d.tool_id for d in dialogs})
        ]
        turns = {d.dialog_id: d.turns for d in dialogs}
        for entry in entries:
            listed = [entry[k] for k in ("Instructions", "Golden_Answers", "Instances", "Dialog_Ids")]
            assert len({len(items) for items in listed}) == 1
            for dialog_id in set(entry["Dialog_Ids"]):
                assert entry["Dialog_Ids"].count(dialog_id) == turns[dialog_id]
            for instruction, golden, instance in zip(*listed[:3], strict=False):
                assert instance["input"] == instruction
                steps = [s[0][:2] for s in instance["intermediate_steps"] if s[0][0] != ASK_USER]
                assert steps == [[a["Action"], a["Action_Input"]] for a in golden]
    assert any(i.startswith("[User]: ") for e in entries for i in e["Instructions"])  # a multi-turn dialogue


def test_toolalpaca_tool_entries(fake_run: FakeRun, run_tools: list[tuple[str, str]], tmp_path: Path) -> None:
    toolalpaca.write(fresh(fake_run, run_tools), tmp_path)
    entries = [e for split in ("train", "eval") for e in json.loads((tmp_path / f"{split}.json").read_text())]
    assert entries
    for entry in entries:
        assert set(entry) == ENTRY_KEYS
        spec = json.loads(entry["Documentation"])
        validate(spec)
        projection = {op.name: [op.path, op.method.lower()] for op in operations(spec)}
        assert entry["Function_Projection"] == projection
        descriptions = entry["Function_Description"]
        assert set(descriptions) == {*projection, "components"} and descriptions["components"] == ""
        for name, text in descriptions.items():
            assert name == "components" or f"{name}: {text}" in entry["NLDocumentation"]
        for instance in entry["Instances"]:
            assert set(instance) == {"input", "output", "Final Thought", "intermediate_steps"}
            for (action, action_input, log), observation in instance["intermediate_steps"]:
                assert log.startswith(" ") and log.endswith(
                    f"\nAction: {action}\nAction Input: {action_input}"
                )
                assert action == ASK_USER or observation.startswith("Status Code: ")


@pytest.mark.parametrize("eval_fraction", [0.2, 1.0])
def test_bfcl_round_trip(
    fake_run: FakeRun, run_tools: list[tuple[str, str]], tmp_path: Path, eval_fraction: float
) -> None:
    source = fresh(fake_run, run_tools, eval_fraction)
    files = bfcl.write(source, tmp_path)
    assert files and {f.split for f in files} == {"eval"}
    expected = {
        bfcl_id: calls_of(d)
        for bfcl_id, d in bfcl.entries(fresh(fake_run, run_tools, eval_fraction).dialogs("eval"))
    }
    found = bfcl.read_calls(tmp_path)
    assert found.keys() == expected.keys()
    for bfcl_id, made in expected.items():
        if "parallel" in bfcl_id:
            assert sorted(map(json.dumps, found[bfcl_id])) == sorted(map(json.dumps, made))
        else:
            assert found[bfcl_id] == made
    rows = sum(f.rows for f in files if not f.path.startswith(bfcl.ANSWERS))
    read = fresh(fake_run, run_tools, eval_fraction)
    held_out, train = list(read.dialogs("eval")), list(read.dialogs("train"))
    unfit = [d for d in held_out if bfcl.bfcl_category(d) is None]
    assert rows + len(unfit) == len(held_out)  # each eval dialogue written once or left out
    assert source.counts == {
        "eval": rows,
        "not_in_format": len(unfit) + len(train),
        **({"straddling": read.counts["straddling"]} if "straddling" in read.counts else {}),
    }


def test_bfcl_lines(fake_run: FakeRun, run_tools: list[tuple[str, str]], tmp_path: Path) -> None:
    bfcl.write(fresh(fake_run, run_tools, 1.0), tmp_path)
    dialogs = {bfcl_id: d for bfcl_id, d in bfcl.entries(fresh(fake_run, run_tools, 1.0).dialogs("eval"))}
    assert {"multiple", "parallel_multiple", "irrelevance"} <= {bfcl.category_of(i) for i in dialogs}
    ids: list[str] = []
    for category in bfcl.CATEGORIES:
        path = tmp_path / bfcl.file_name(category)
        if not path.exists():
            continue
        questions = {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}
        ids += questions
        for bfcl_id, row in questions.items():
            assert bfcl.category_of(bfcl_id) == category == bfcl.bfcl_category(dialogs[bfcl_id])
            assert row["question"] == [[{"role": "user", "content": dialogs[bfcl_id].instruction}]]
            assert types_in(row["function"]) <= BFCL_TYPES
        answers = tmp_path / bfcl.ANSWERS / bfcl.file_name(category)
        if category == "irrelevance":
            assert not answers.exists()
            continue
        answered = [json.loads(text) for text in answers.read_text().splitlines()]
        assert [r["id"] for r in answered] == list(questions)
        for row in answered:
            offered = {f["name"] for f in questions[row["id"]]["function"]}
            assert {name for truth in row["ground_truth"] for name in truth} <= offered
    assert len(ids) == len(set(ids)) == len(dialogs)


def types_in(value: Any) -> set[str]:
    """Every `type` named in a JSON value, at any depth."""
    if isinstance(value, list):
        return {t for item in value for t in types_in(item)}
    if not isinstance(value, dict):
        return set()
    own = {value["type"]} if isinstance(value.get("type"), str) else set()
    return own | {t for item in value.values() for t in types_in(item)}
