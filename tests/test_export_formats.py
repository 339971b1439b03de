"""The OpenAI, HF, ShareGPT and ReAct exports: each renders hand-made dialogues (parallel calls, a
clarifying question, no call, follow-ups) as its format says, and a round trip through its files
over the shared fake run (`fake_run`) gives back every call of every dialogue of each split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.dialog import Dialog, DialogType, Message, ToolCall, tool_message
from schemas.export import SPLITS, ExportFile
from storage import RunStore
from tasks.exports import hf, openai, react, sharegpt
from tasks.exports.source import ExportSource, calls_of
from tasks.split import split_tools
from tests.support.records import accepted_dialog

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} of a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    for name in ("getWeather", "getTime")
]
THOUGHT = "Both at once."


def make(dialog_id: str, messages: list[Message], kind: DialogType = "single") -> Dialog:
    return accepted_dialog(dialog_id, "city", messages, TOOLS, kind)


def call(number: int, name: str, city: str) -> ToolCall:
    return ToolCall(id=f"call_{number}", name=name, arguments=json.dumps({"city": city}))


def parallel() -> Dialog:
    weather, time = call(1, "getWeather", "Oslo"), call(2, "getTime", "Oslo")
    return make(
        "city-1",
        [
            Message(role="user", content="Weather and time in Oslo?"),
            Message(role="assistant", thought=THOUGHT, tool_calls=[weather, time]),
            tool_message(weather, 200, {"sky": "clear"}),
            tool_message(time, 200, {"time": "12:00"}),
            Message(role="assistant", content="Clear, and it is noon.", thought="I have both."),
        ],
        "parallel",
    )


def clarified() -> Dialog:
    weather = call(1, "getWeather", "Lisbon")
    return make(
        "city-2",
        [
            Message(role="user", content="What is the weather?"),
            Message(role="assistant", content="Which city?", thought="No city.", clarification=True),
            Message(role="user", content="Lisbon", clarification=True),
            Message(role="assistant", thought="Now I know.", tool_calls=[weather]),
            tool_message(weather, 404, {"error": "unknown city"}),
            Message(role="assistant", content="I could not find Lisbon."),
        ],
    )


def no_call() -> Dialog:
    return make(
        "city-3",
        [
            Message(role="user", content="Tell me a joke."),
            Message(role="assistant", content="No tool for that."),
        ],
        "non_tool",
    )


def follow_ups() -> Dialog:
    weather = call(1, "getWeather", "Rome")
    return make(
        "city-4",
        [
            Message(role="user", content="Weather in Rome?"),
            Message(role="assistant", tool_calls=[weather]),
            tool_message(weather, 200, {"sky": "rain"}),
            Message(role="assistant", content="Rain."),
            Message(role="user", content="Thanks. And is that usual?"),
            Message(role="assistant", content="In spring, yes."),
        ],
        "multi_turn",
    )


DIALOGS = [parallel, clarified, no_call, follow_ups]


# OpenAI


def test_openai_line_of_parallel_calls():
    line = openai.openai_line(parallel(), "You help.")
    assert line["parallel_tool_calls"] is True
    assert line["tools"] == TOOLS
    assert line["messages"] == [
        {"role": "system", "content": "You help."},
        {"role": "user", "content": "Weather and time in Oslo?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "getWeather", "arguments": '{"city": "Oslo"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "getTime", "arguments": '{"city": "Oslo"}'},
                },
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": '{"status_code": 200, "body": {"sky": "clear"}}',
        },
        {
            "role": "tool",
            "tool_call_id": "call_2",
            "content": '{"status_code": 200, "body": {"time": "12:00"}}',
        },
        {"role": "assistant", "content": "Clear, and it is noon."},
    ]
    assert THOUGHT not in json.dumps(line)


def test_openai_line_of_a_clarification_and_of_no_call():
    line = openai.openai_line(clarified())
    assert [(m["role"], m.get("content")) for m in line["messages"][:3]] == [
        ("user", "What is the weather?"),
        ("assistant", "Which city?"),
        ("user", "Lisbon"),
    ]
    assert line["parallel_tool_calls"] is False
    assert '"status_code": 404' in line["messages"][4]["content"]
    assert openai.openai_line(no_call())["messages"] == [
        {"role": "user", "content": "Tell me a joke."},
        {"role": "assistant", "content": "No tool for that."},
    ]


@pytest.mark.parametrize("make_dialog", DIALOGS)
def test_openai_lines_are_valid_and_give_back_the_calls(make_dialog):
    dialog = make_dialog()
    line = json.loads(json.dumps(openai.openai_line(dialog, "You help.")))
    assert openai.openai_problems(line) == []
    assert openai.read_calls(line) == calls_of(dialog)


def broken(change) -> list[str]:
    line = json.loads(json.dumps(openai.openai_line(parallel(), "You help.")))
    change(line)
    return openai.openai_problems(line)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda line: line["messages"].pop(1), "not the user's"),
        (lambda line: line["messages"].insert(2, {"role": "system", "content": "x"}), "system message"),
        (lambda line: line["messages"].pop(4), "are not answered before it"),
        (lambda line: line["messages"][3].update(tool_call_id="call_9"), "answers no open call"),
        (lambda line: line["messages"].append({"role": "user", "content": "more"}), "last message"),
        (
            lambda line: line["messages"][2]["tool_calls"][0]["function"].update(arguments="[1]"),
            "JSON object",
        ),
        (lambda line: line["messages"][2]["tool_calls"][0]["function"].update(arguments="{x"), "JSON object"),
        (lambda line: line["messages"][2]["tool_calls"][1].update(id="call_1"), "not unique"),
        (lambda line: line["messages"][2]["tool_calls"][0]["function"].update(name="nope"), "not offered"),
        (lambda line: line["messages"][2]["tool_calls"][0].pop("type"), "is not {'type'"),
        (lambda line: line["messages"][5].pop("content"), "needs content or tool_calls"),
        (lambda line: line["messages"][1].update(thought="x"), "has key 'thought'"),
        (lambda line: line.update(parallel_tool_calls=False), "parallel calls"),
        (lambda line: line["tools"][0].update(type="tool"), "tool 0 is not"),
        (lambda line: line["tools"][1]["function"].update(name="get time"), "no valid name"),
        (lambda line: line["tools"][1]["function"].update(parameters={"type": "string"}), "parameters"),
        (lambda line: line.update(extra=1), "unknown key 'extra'"),
    ],
)
def test_openai_problems_name_what_breaks_the_format(change, problem):
    problems = broken(change)
    assert any(problem in p for p in problems), problems


# HF


def test_hf_row_has_argument_and_tool_objects():
    row = hf.hf_row(parallel())
    assert row["id"] == "city-1" and row["dialog_type"] == "parallel"
    assert row["tools"] == TOOLS
    calling = row["messages"][1]
    assert calling["content"] is None
    assert [c["function"] for c in calling["tool_calls"]] == [
        {"name": "getWeather", "arguments": {"city": "Oslo"}},
        {"name": "getTime", "arguments": {"city": "Oslo"}},
    ]
    assert row["messages"][2] == {
        "role": "tool",
        "content": '{"status_code": 200, "body": {"sky": "clear"}}',
        "tool_call_id": "call_1",
        "name": "getWeather",
    }
    assert THOUGHT not in json.dumps(row)


@pytest.mark.parametrize("make_dialog", DIALOGS)
def test_hf_table_holds_the_rows(make_dialog):
    dialog = make_dialog()
    table = hf.hf_table([hf.hf_row(dialog, "You help.")])
    assert table.schema == hf.SCHEMA
    stored = table.to_pylist()[0]
    arguments = [
        json.loads(c["function"]["arguments"]) for m in stored["messages"] for c in m["tool_calls"] or []
    ]
    assert arguments == [args for _, args in calls_of(dialog)]
    assert [json.loads(tool) for tool in stored["tools"]] == TOOLS


def test_hf_features_are_what_datasets_writes_for_the_schema():
    datasets = pytest.importorskip("datasets")
    assert hf.hf_features() == datasets.Features.from_arrow_schema(hf.SCHEMA)._to_yaml_list()


def test_hf_shards_are_cut_every_shard_rows_and_replace_earlier_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(hf, "SHARD_ROWS", 2)
    monkeypatch.setattr(hf, "ROW_GROUP_ROWS", 1)
    rows = [hf.hf_row(make()) for make in [*DIALOGS, parallel]]
    files = hf.write_split(tmp_path, "train", rows)
    assert [(f.path, f.rows) for f in files] == [
        ("data/train-00000-of-00003.parquet", 2),
        ("data/train-00001-of-00003.parquet", 2),
        ("data/train-00002-of-00003.parquet", 1),
    ]
    again = hf.write_split(tmp_path, "train", rows[:1])
    assert [f.path for f in again] == ["data/train-00000-of-00001.parquet"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["train-00000-of-00001.parquet"]
    assert hf.write_split(tmp_path, "eval", []) == []
    assert hf.hf_configs(again) == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}
    ]


# ShareGPT


def test_sharegpt_parallel_calls_are_one_turn_and_their_results_one_observation():
    row = sharegpt.sharegpt_row(parallel(), "You help.")
    assert row["system"] == "You help."
    assert json.loads(row["tools"]) == [tool["function"] for tool in TOOLS]
    assert row["conversations"] == [
        {"from": "human", "value": "Weather and time in Oslo?"},
        {
            "from": "function_call",
            "value": json.dumps(
                [
                    {"name": "getWeather", "arguments": {"city": "Oslo"}},
                    {"name": "getTime", "arguments": {"city": "Oslo"}},
                ]
            ),
        },
        {
            "from": "observation",
            "value": '[{"status_code": 200, "body": {"sky": "clear"}}, '
            '{"status_code": 200, "body": {"time": "12:00"}}]',
        },
        {"from": "gpt", "value": "Clear, and it is noon."},
    ]
    assert json.loads(row["conversations"][2]["value"])[1] == {"status_code": 200, "body": {"time": "12:00"}}


def test_sharegpt_clarification_no_call_and_follow_ups():
    assert [t["from"] for t in sharegpt.sharegpt_conversation(clarified())] == [
        "human",
        "gpt",
        "human",
        "function_call",
        "observation",
        "gpt",
    ]
    one = sharegpt.sharegpt_conversation(clarified())[3]["value"]
    assert json.loads(one) == {"name": "getWeather", "arguments": {"city": "Lisbon"}}
    assert sharegpt.sharegpt_conversation(no_call()) == [
        {"from": "human", "value": "Tell me a joke."},
        {"from": "gpt", "value": "No tool for that."},
    ]
    assert [t["from"] for t in sharegpt.sharegpt_conversation(follow_ups())] == [
        "human",
        "function_call",
        "observation",
        "gpt",
        "human",
        "gpt",
    ]


def test_sharegpt_merges_neighbouring_turns_of_one_kind():
    dialog = no_call()
    dialog.messages.insert(1, Message(role="user", content="Please."))
    dialog.messages.append(Message(role="assistant", content="Sorry."))
    row = sharegpt.sharegpt_row(dialog)
    assert row["conversations"] == [
        {"from": "human", "value": "Tell me a joke.\n\nPlease."},
        {"from": "gpt", "value": "No tool for that.\n\nSorry."},
    ]
    assert sharegpt.sharegpt_problems(row) == []


@pytest.mark.parametrize("make_dialog", DIALOGS)
def test_sharegpt_rows_are_what_llama_factory_reads(make_dialog):
    dialog = make_dialog()
    row = json.loads(json.dumps(sharegpt.sharegpt_row(dialog)))
    assert sharegpt.sharegpt_problems(row) == []
    assert sharegpt.read_calls(row) == calls_of(dialog)


def test_sharegpt_problems_name_misplaced_turns_and_bad_calls():
    row = sharegpt.sharegpt_row(parallel())
    turns = row["conversations"]
    assert any(
        "'gpt' at an odd position" in p
        for p in sharegpt.sharegpt_problems({**row, "conversations": turns[3:]})
    )
    assert any("even count" in p for p in sharegpt.sharegpt_problems({**row, "conversations": turns[:3]}))
    no_answer = [turns[0], turns[1], {"from": "human", "value": "x"}, turns[3]]
    assert any("no observation" in p for p in sharegpt.sharegpt_problems({**row, "conversations": no_answer}))
    bad_call = [turns[0], {"from": "function_call", "value": '{"name": "f", "arguments": "x"}'}, *turns[2:]]
    assert any(
        "not a JSON object" in p for p in sharegpt.sharegpt_problems({**row, "conversations": bad_call})
    )
    assert sharegpt.sharegpt_problems({**row, "tools": "{"}) == ["tools is not a JSON list as text"]


def test_sharegpt_dataset_info_declares_both_files():
    info = sharegpt.dataset_info()
    assert info["toolforge_train"] == {
        "file_name": "train.json",
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
    }
    assert info["toolforge_eval"]["file_name"] == "eval.json"


# ReAct


def test_react_line_is_prompt_and_react_text():
    (line,) = react.react_lines(parallel(), [])
    assert line["id"] == "city-1" and line["tool_id"] == "city" and line["turn"] == 0
    assert "getWeather: getWeather of a city." in line["prompt"]
    assert "one of [getWeather, getTime]" in line["prompt"]
    assert line["prompt"].endswith("User request: Weather and time in Oslo?\n")
    assert "Earlier in this conversation" not in line["prompt"]
    assert line["completion"] == (
        f'Thought: {THOUGHT}\nAction: getWeather\nAction Input: {{"city": "Oslo"}}\n'
        'Observation: {"status_code": 200, "body": {"sky": "clear"}}\n'
        'Thought: \nAction: getTime\nAction Input: {"city": "Oslo"}\n'
        'Observation: {"status_code": 200, "body": {"time": "12:00"}}\n'
        "Final Answer: Clear, and it is noon."
    )
    assert react.read_calls(line) == calls_of(parallel())


def react_calls(lines: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The calls of a dialogue's lines, turn after turn."""
    return [call for line in sorted(lines, key=lambda line: line["turn"]) for call in react.read_calls(line)]


@pytest.mark.parametrize("make_dialog", DIALOGS)
def test_react_lines_give_back_the_calls(make_dialog):
    dialog = make_dialog()
    lines = react.react_lines(dialog, [])
    assert len(lines) == dialog.turns
    assert react_calls(lines) == calls_of(dialog)


def test_a_follow_up_is_a_line_whose_prompt_holds_the_turns_before_it():
    first, second = react.react_lines(follow_ups(), [])
    assert first["prompt"].endswith("User request: Weather in Rome?\n")
    assert second["prompt"].endswith("User request: Thanks. And is that usual?\n")
    assert (
        "Earlier in this conversation:\nWeather in Rome?\nThought: \nAction: getWeather" in second["prompt"]
    )
    assert "Final Answer: Rain." in second["prompt"]
    assert second["completion"] == "Final Answer: In spring, yes."  # the user's words are never a completion


def test_react_clarification_is_a_getdetails_step_and_no_call():
    (line,) = react.react_lines(clarified(), [])
    assert react.parse_actions(line["completion"])[0] == ("getDetails", '{"Question": "Which city?"}')
    assert react.read_calls(line) == [("getWeather", {"city": "Lisbon"})]


def test_react_parser_is_lenient():
    text = (
        'Thought: go\nAction:  getWeather \nAction Input: {"city":\n  "Oslo"}\nObservation: {}\n'
        "Action: getTime\nThought: forgot the input\n"
        'Action: getWeather\nAction Input: here it is: {"city": "Rome"} (I think)\nFinal Answer: done'
    )
    assert react.parse_actions(text) == [
        ("getWeather", '{"city":\n  "Oslo"}'),
        ("getTime", ""),
        ("getWeather", 'here it is: {"city": "Rome"} (I think)'),
    ]
    assert react.read_calls({"completion": text}) == [
        ("getWeather", {"city": "Oslo"}),
        ("getTime", {}),
        ("getWeather", {"city": "Rome"}),
    ]


# Round trips over the fake run


@pytest.fixture(scope="module")
def run(fake_run) -> tuple[RunStore, str, Any]:
    store = RunStore(str(fake_run.out))
    tools = ExportSource(store, fake_run.run_id, split_tools([], 0.2, 0)).tools.values()
    return store, fake_run.run_id, split_tools([(t.tool_id, t.category) for t in tools], 0.2, 0)


@pytest.fixture(scope="module")
def expected(run) -> dict[str, list[Dialog]]:
    """The dialogues of each split, read once."""
    source = ExportSource(*run)
    found = {split: list(source.dialogs(split)) for split in SPLITS}
    assert found["train"] and found["eval"], "the fake run has dialogues on both sides"
    return found


def export(run, module, folder: Path) -> tuple[ExportSource, list[ExportFile]]:
    """Write the run with `module`; each split's rows are the dialogues read of it."""
    source = ExportSource(*run)
    files = module.write(source, folder)
    rows = {split: sum(f.rows for f in files if f.split == split) for split in SPLITS}
    assert rows == {split: source.counts.get(split, 0) for split in SPLITS}
    return source, files


def assert_round_trip(expected: dict[str, list[Dialog]], read: dict[str, list[list[tuple[str, Any]]]]):
    for split in SPLITS:
        assert len(read[split]) == len(expected[split])
        for dialog, calls in zip(expected[split], read[split], strict=True):
            assert calls == calls_of(dialog), dialog.dialog_id


def test_openai_round_trip(run, expected, tmp_path):
    export(run, openai, tmp_path)
    read = {}
    for split in SPLITS:
        lines = [json.loads(text) for text in (tmp_path / f"{split}.jsonl").read_text().splitlines()]
        assert [p for line in lines for p in openai.openai_problems(line)] == []
        assert all(line["messages"][0]["role"] == "system" for line in lines)
        read[split] = [openai.read_calls(line) for line in lines]
    assert_round_trip(expected, read)


def test_sharegpt_round_trip(run, expected, tmp_path):
    export(run, sharegpt, tmp_path)
    read = {}
    for split in SPLITS:
        rows = json.loads((tmp_path / f"{split}.json").read_text())
        assert [p for row in rows for p in sharegpt.sharegpt_problems(row)] == []
        assert [row["id"] for row in rows] == [d.dialog_id for d in expected[split]]
        read[split] = [sharegpt.read_calls(row) for row in rows]
    assert_round_trip(expected, read)
    assert json.loads((tmp_path / "dataset_info.json").read_text()) == sharegpt.dataset_info()


def test_react_round_trip(run, expected, tmp_path):
    source = ExportSource(*run)
    files = react.write(source, tmp_path)
    read = {}
    for split in SPLITS:
        lines = [json.loads(text) for text in (tmp_path / f"{split}.jsonl").read_text().splitlines()]
        assert sum(f.rows for f in files if f.split == split) == len(lines)
        by_id: dict[str, list[dict[str, Any]]] = {}
        for line in lines:
            by_id.setdefault(line["id"], []).append(line)
        assert list(by_id) == [d.dialog_id for d in expected[split]]
        for dialog in expected[split]:
            assert len(by_id[dialog.dialog_id]) == dialog.turns
            first = by_id[dialog.dialog_id][0]
            assert all(source.tools[i].nl_documentation in first["prompt"] for i in dialog.tool_ids)
        read[split] = [react_calls(by_id[d.dialog_id]) for d in expected[split]]
    assert_round_trip(expected, read)


TEMPLATE = """{%- if tools %}Tools: {{ tools | tojson }}
{% endif %}
{%- for message in messages %}<|{{ message.role }}|>{{ message.content or '' }}
{%- if message.tool_calls %}{% for call in message.tool_calls %}
<call>{{ call.function.name }} {{ call.function.arguments | tojson }}</call>
{%- endfor %}{% endif %}
{%- if message.tool_call_id %} (answers {{ message.tool_call_id }}){% endif %}
{% endfor %}"""


def test_hf_round_trip_through_datasets_and_a_chat_template(run, expected, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    yaml = pytest.importorskip("yaml")
    folder = tmp_path / "hf"
    source, files = export(run, hf, folder)
    front = {"configs": hf.hf_configs(files), "dataset_info": {"features": hf.hf_features()}}
    (folder / "README.md").write_text(f"---\n{yaml.safe_dump(front, sort_keys=False)}---\n# Test\n")
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    assert {split: loaded[split].num_rows for split in SPLITS} == {s: source.counts[s] for s in SPLITS}
    read = {split: [hf.read_calls(row) for row in loaded[split]] for split in SPLITS}
    assert_round_trip(expected, read)
    assert [row["id"] for row in loaded["eval"]] == [d.dialog_id for d in expected["eval"]]

    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizers.Tokenizer(tokenizers.models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")),
        unk_token="[UNK]",
    )
    tokenizer.chat_template = TEMPLATE
    for split in SPLITS:
        for row in loaded[split]:
            assert isinstance(row["tools"][0], dict)
            text = tokenizer.apply_chat_template(row["messages"], tools=row["tools"], tokenize=False)
            for name, arguments in hf.read_calls(row):
                assert f"<call>{name} {json.dumps(arguments, ensure_ascii=False)}</call>" in text
