"""`--assistant-calls native`: the assistant's calls read from the model's own `tool_calls`, through
litellm's OpenAI client against the fake server, make the same dialogues as structured ReAct steps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agents.assistant.native import fitting_thought, read_turn
from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway, NativeCall, ToolAnswer
from bench import responders
from bench.fake_llm_server import FakeLLMServer
from flows import corpus
from flows.config import CorpusConfig, SeedSelection
from schemas.dialog import Dialog, DialogType
from schemas.simulation import PARALLEL
from schemas.tool import Tool
from tasks.checks import check_dialogs
from tasks.simulation import SimulationSettings, simulate
from tests.support.scripts import instruction

KINDS: list[DialogType] = ["single", "parallel", "dependent", "non_tool", "multi_turn"]
NATIVE = SimulationSettings(assistant_calls="native")


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.0) as fake:
        yield fake


def http_config(server: FakeLLMServer, tmp_path: Path) -> LLMConfig:
    return LLMConfig(
        model="openai/fake-model", api_base=server.base_url, cache_dir=str(tmp_path / "cache"), timeout_s=60
    )


def checked(dialog: Dialog) -> Dialog:
    result = check_dialogs([dialog])
    (verdict,) = result.accepted + result.rejected
    return verdict


@pytest.mark.parametrize("kind", KINDS)
def test_native_calls_make_an_accepted_dialogue_of_every_type(server, tmp_path, tool: Tool, kind):
    gateway = LLMGateway(http_config(server, tmp_path))
    dialog = checked(simulate(tool, instruction(kind), gateway, NATIVE))
    assert dialog.status == "accepted", dialog.rejection_reason
    assert (dialog.calls > 0, dialog.calls_per_turn >= 2) == (kind != "non_tool", kind == "parallel")
    assert dialog.turns == (3 if kind == "multi_turn" else 1)


class Decisions:
    """The same decisions for both ways of calling: a question, two calls at once, a final answer;
    the rest (the user, the executor) answered by the canned responders. A native model's thought is
    its text beside its calls, and its separate reasoning (`reasoning_content`) beside its answer."""

    def __init__(self) -> None:
        self.thoughts = ["Which cities?", "Both at once."]
        self.structured: list[dict[str, Any]] = [
            {
                "thought": self.thoughts[0],
                "action": "getDetails",
                "action_input": {"Question": "Which cities?"},
            },
            {
                "thought": self.thoughts[1],
                "action": PARALLEL,
                "calls": [
                    {"function": "searchAtlas", "arguments": {"query": "Lisbon"}},
                    {"function": "searchAtlas", "arguments": {"query": "Porto", "limit": 2}},
                ],
            },
            {"thought": "Done.", "action": "finish", "final_answer": "Lisbon has 3 records, Porto 2."},
        ]
        self.native: list[dict[str, Any]] = [
            {
                "content": self.thoughts[0],
                "tool_calls": [call("x1", "getDetails", {"Question": "Which cities?"})],
            },
            {
                "content": self.thoughts[1],
                "tool_calls": [
                    call("x2", "searchAtlas", {"query": "Lisbon"}),
                    call("x3", "searchAtlas", {"query": "Porto", "limit": 2}),
                ],
            },
            {"content": "Lisbon has 3 records, Porto 2.", "reasoning_content": "Done."},
        ]
        self.native_requests: list[dict[str, Any]] = []

    def __call__(self, request: dict[str, Any]) -> Any:
        if request.get("tools"):
            self.native_requests.append(request)
            return self.native.pop(0)
        if responders.schema_name(request) == "AssistantTurn":
            return json.dumps(self.structured.pop(0))
        return responders.toolforge(request)


def call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def test_native_and_structured_calls_make_the_same_record_for_the_same_decisions(tmp_path, tool: Tool):
    decisions = Decisions()
    dialogs = {}
    with FakeLLMServer(responder=decisions, latency_s=0.0) as server:
        gateway = LLMGateway(http_config(server, tmp_path))
        for calls in ("structured", "native"):
            settings = SimulationSettings(assistant_calls=calls)
            dialogs[calls] = checked(simulate(tool, instruction("parallel"), gateway, settings))
    structured, native = dialogs["structured"], dialogs["native"]
    assert structured.status == native.status == "accepted"
    assert native.messages[-1].thought == "Done."  # read through litellm's `reasoning_content`
    ignored = {"llm_calls", "prompt_tokens", "completion_tokens"}
    assert structured.model_dump(exclude=ignored) == native.model_dump(exclude=ignored)
    assert [len(m.tool_calls) for m in native.messages if m.role == "assistant"] == [0, 2, 0]
    # what the model was offered: getDetails beside the API's functions; a call required before the
    # parallel message, several calls at once only there; the final answer open after it
    first, second, third = decisions.native_requests
    assert [t["function"]["name"] for t in first["tools"]] == ["searchAtlas", "getAtlasRecord", "getDetails"]
    assert (first["tool_choice"], first["parallel_tool_calls"]) == ("required", True)
    assert (third["tool_choice"], third["parallel_tool_calls"]) == ("auto", False)
    # the dialogue so far as chat messages: the question a getDetails call, the reply its result
    asked, replied = second["messages"][2:4]
    assert asked["tool_calls"][0]["function"]["name"] == "getDetails"
    assert (replied["role"], replied["tool_call_id"]) == ("tool", asked["tool_calls"][0]["id"])
    results = [m for m in third["messages"] if m["role"] == "tool"][1:]
    assert [m["tool_call_id"] for m in results] == ["call_1", "call_2"]
    assert json.loads(results[0]["content"])["status_code"] == 200


def test_a_native_answer_that_breaks_the_protocol_is_fed_back(tmp_path, tool: Tool):
    answers = iter([{"content": "No need to call anything."}] * 3)

    def responder(request: dict[str, Any]) -> Any:
        return next(answers) if request.get("tools") else responders.toolforge(request)

    with FakeLLMServer(responder=responder, latency_s=0.0) as server:
        gateway = LLMGateway(http_config(server, tmp_path))
        dialog = checked(simulate(tool, instruction("single"), gateway, NATIVE))
    assert dialog.rejection_rule == "unparseable_output"
    assert "action 'finish' is not one of" in dialog.rejection_reason


def test_the_embedded_model_is_refused_native_calls():
    with pytest.raises(ValueError, match="--assistant-calls native needs a model with function calling"):
        CorpusConfig(llm=LLMConfig(), simulation=NATIVE)


@pytest.mark.usefixtures("prefect_server")
def test_a_native_run_through_the_flow_files_every_type(server, tmp_path):
    seeds = tmp_path / "apis.md"
    seeds.write_text(
        "### Geo\n| API | Description | Auth | HTTPS | CORS |\n|---|---|---|---|---|\n"
        "| [Atlas](https://atlas.example.org) | Records about places | No | Yes | Yes |\n",
        encoding="utf-8",
    )
    mix = dict.fromkeys(KINDS, 0.2)
    config = CorpusConfig(
        seeds=SeedSelection(source=str(seeds)),
        llm=http_config(server, tmp_path),
        simulation=SimulationSettings(assistant_calls="native", instructions_per_tool=5, dialog_mix=mix),
        out=str(tmp_path / "out"),
    )
    run_dir = Path(corpus.run(config))
    dialogs = pd.read_parquet(run_dir / "dialogs")
    assert sorted(dialogs["dialog_type"]) == sorted(KINDS)
    assert pd.read_parquet(run_dir / "rejected_dialogs").empty


def test_a_reasoning_models_thought_is_its_conclusion_never_a_cut_sentence():
    conclusion = "So searchAtlas answers it."
    assert fitting_thought("  Short.  ") == "Short."
    assert fitting_thought("x" * 2000 + "\n\n" + conclusion) == conclusion
    assert fitting_thought("x" * 2000) == ""
    turn = read_turn(ToolAnswer(content="Lisbon has 3.", reasoning="y" * 5000 + "\n\n" + conclusion))
    assert (turn.thought, turn.final_answer) == (conclusion, "Lisbon has 3.")
    spoken = read_turn(
        ToolAnswer(content="Looking it up.", tool_calls=[NativeCall(name="f", arguments="{}")])
    )
    assert spoken.thought == "Looking it up."
