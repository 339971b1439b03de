"""ToolACE's dialogue types: for each, an accepted dialogue, a rejected near-miss naming the rule, and
the protocol held by the decoding schema (what the assistant can write at each step)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.assistant import agent as assistant
from agents.llm.gateway import LLMGateway
from bench import responders
from schemas.dialog import Dialog, DialogType
from schemas.dialog_shape import unfit_tool
from schemas.react import render_react
from schemas.simulation import PARALLEL
from schemas.tool import Tool
from tasks.checks import check_dialogs
from tasks.simulation import SimulationSettings, follow_ups, simulate, simulate_batch, write_instructions
from tests.support.scripts import (
    REQUESTS,
    SEED,
    call,
    finish,
    instruction,
    scripted,
    search_then_fetch,
    turns,
)


def checked(tool: Tool, llm_config, kind: DialogType, **extra: Any) -> Dialog:
    simulated = simulate(tool, instruction(kind, **extra), LLMGateway(llm_config), SimulationSettings())
    (dialog,) = [*check_dialogs([simulated]).accepted, *check_dialogs([simulated]).rejected]
    return dialog


def offered(request: dict[str, Any]) -> list[str]:
    """The actions an assistant request's decoding schema allows."""
    schema = request["response_format"]["json_schema"]["schema"]
    return [branch["properties"]["action"]["const"] for branch in schema["anyOf"]]


@pytest.fixture
def single(scripted_llm, llm_config, tool) -> Dialog:
    """A single dialogue of one call, simulated (not yet checked), for near-misses to relabel."""
    scripted(scripted_llm)
    dialog = simulate(tool, instruction("single"), LLMGateway(llm_config), SimulationSettings())
    assert check_dialogs([dialog]).accepted and dialog.calls == 1
    return dialog


def assistant_requests(scripted_llm) -> list[dict[str, Any]]:
    return [r for r in scripted_llm.requests if responders.schema_name(r) == "AssistantTurn"]


@pytest.mark.parametrize("kind", ["single", "parallel", "dependent", "non_tool", "multi_turn"])
def test_the_canned_model_makes_an_accepted_dialogue_of_every_type(scripted_llm, llm_config, tool, kind):
    scripted(scripted_llm)
    dialog = checked(tool, llm_config, kind)
    assert (dialog.status, dialog.dialog_type) == ("accepted", kind), dialog.rejection_reason
    shape = (dialog.turns, dialog.calls > 0, dialog.calls_per_turn >= 2)
    assert (
        shape
        == {
            "single": (1, True, False),
            "parallel": (1, True, True),
            "dependent": (1, True, False),
            "non_tool": (1, False, False),
            "multi_turn": (3, True, False),
        }[kind]
    )


def test_a_parallel_dialogue_calls_several_functions_in_one_message(scripted_llm, llm_config, tool):
    calls = [
        {"function": "searchAtlas", "arguments": {"query": "Lisbon"}},
        {"function": "searchAtlas", "arguments": {"query": "Porto"}},
    ]
    several = {"thought": "Both cities at once.", "action": PARALLEL, "calls": calls}
    scripted(scripted_llm, AssistantTurn=turns(several, finish("Lisbon has 3 records, Porto 2.")))
    dialog = checked(tool, llm_config, "parallel")
    assert dialog.status == "accepted" and (dialog.calls, dialog.calls_per_turn) == (2, 2)
    _, calling, first, second, _ = dialog.messages
    assert [c.id for c in calling.tool_calls] == ["call_1", "call_2"]
    # the executor answered each call, in order, the second knowing the first
    assert [(m.role, m.tool_call_id) for m in (first, second)] == [("tool", "call_1"), ("tool", "call_2")]
    executor = [r for r in scripted_llm.requests if responders.schema_name(r) == "ExecutorAnswer"]
    assert len(executor) == 2 and "query=Lisbon" in executor[1]["messages"][-1]["content"]
    # before the parallel message, several calls at once (or a question) is all it could write
    first_request, last_request = assistant_requests(scripted_llm)
    assert offered(first_request) == [PARALLEL, "getDetails"]
    assert offered(last_request)[-1] == "finish"
    assert "multi_tool_use.parallel" in first_request["messages"][0]["content"]
    # ReAct has one action per step: one step per call, the first with the message's thought
    assert render_react(dialog).count("Action: searchAtlas") == 2


def test_a_parallel_dialogue_with_one_call_per_message_is_rejected(single):
    near_miss = single.model_copy(update={"dialog_type": "parallel"})
    (rejection,) = check_dialogs([near_miss]).rejections
    assert (rejection.rule, rejection.reason) == (
        "not_parallel",
        "a parallel dialogue makes several calls in one assistant message; the most in one was 1",
    )


def test_a_dependent_call_takes_a_value_only_an_earlier_result_gave(scripted_llm, llm_config, tool):
    search_then_fetch(scripted_llm, ["rec-77", "rec-78"])
    dialog = checked(tool, llm_config, "dependent")
    assert dialog.status == "accepted", dialog.rejection_reason
    first, second, last = assistant_requests(scripted_llm)
    assert "finish" not in offered(first) and "finish" not in offered(second)
    assert offered(last)[-1] == "finish"
    # after the first result, a call must take one argument from it ("Lisbon" is the user's own)
    branches = second["response_format"]["json_schema"]["schema"]["anyOf"]
    get = next(b for b in branches if b["properties"]["action"]["const"] == "getAtlasRecord")
    assert get["properties"]["action_input"]["properties"]["recordId"] == {"enum": ["rec-77", "rec-78"]}


def test_a_dependent_dialogue_whose_second_call_invents_the_id_is_rejected(scripted_llm, llm_config, tool):
    # the grammar would not let it write the invented id: a model that does is told which it may use
    invented = call("getAtlasRecord", recordId="rec-invented")
    scripted(scripted_llm, AssistantTurn=turns(call("searchAtlas", query="Lisbon"), invented))
    dialog = checked(tool, llm_config, "dependent")
    assert dialog.rejection_rule == "unparseable_output"
    assert "takes one of its arguments from an earlier result" in dialog.rejection_reason
    # the same calls in a dialogue filed as dependent: the rule names the lack
    scripted(scripted_llm, AssistantTurn=turns(call("searchAtlas", query="Lisbon"), invented, finish()))
    single = simulate(tool, instruction("single"), LLMGateway(llm_config), SimulationSettings())
    assert single.calls == 2
    near_miss = single.model_copy(update={"dialog_type": "dependent"})
    (rejection,) = check_dialogs([near_miss]).rejections
    assert rejection.rule == "not_dependent"
    assert "no argument of its 2 call(s) is a value an earlier result gave" in rejection.reason


def test_a_value_the_user_gave_does_not_make_a_call_dependent(scripted_llm, llm_config, tool):
    def executor(request):
        return {"status_code": 200, "body": {"results": ["Lisbon"], "count": 1}}

    scripted(
        scripted_llm,
        AssistantTurn=turns(call("searchAtlas", query="Lisbon"), call("getAtlasRecord", recordId="Lisbon")),
        ExecutorAnswer=executor,
    )
    single = simulate(tool, instruction("single"), LLMGateway(llm_config), SimulationSettings(max_steps=2))
    near_miss = single.model_copy(update={"dialog_type": "dependent", "ending": "final_answer"})
    assert check_dialogs([near_miss]).rejections[0].rule == "not_dependent"


def test_a_multi_turn_dialogue_plays_the_users_follow_ups(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    dialog = checked(tool, llm_config, "multi_turn")
    assert dialog.status == "accepted" and dialog.turns == 3
    requests = [m.content for m in dialog.messages if m.role == "user"]
    assert requests[0] == REQUESTS["multi_turn"] and requests[1].startswith("Thanks. Now the same for")
    answers = [m for m in dialog.messages if m.role == "assistant" and not m.tool_calls]
    assert len(answers) == 3 and dialog.final_answer == answers[-1].content
    # the user's follow-up is written from what it saw: its requests and the answers
    follow_up = next(r for r in scripted_llm.requests if responders.schema_name(r) == "FollowUp")
    assert (
        f"You: {REQUESTS['multi_turn']}\nAssistant: {answers[0].content}"
        in follow_up["messages"][1]["content"]
    )
    # the assistant sees the earlier turns, and takes at most max_steps steps per request
    last = assistant_requests(scripted_llm)[-1]["messages"][1]["content"]
    assert last.startswith(f"Earlier in this conversation:\nUser request: {REQUESTS['multi_turn']}\n")
    text = render_react(dialog)
    assert text.startswith(REQUESTS["multi_turn"]) and text.count("Final Answer:") == 3


def test_a_multi_turn_dialogue_with_one_request_is_rejected(single):
    near_miss = single.model_copy(update={"dialog_type": "multi_turn"})
    (rejection,) = check_dialogs([near_miss]).rejections
    assert (rejection.rule, rejection.reason) == (
        "not_multi_turn",
        "a multi_turn dialogue has at least 3 user requests; this one has 1",
    )


def test_a_non_tool_dialogue_that_calls_a_tool_is_rejected(single):
    near_miss = single.model_copy(update={"dialog_type": "non_tool"})
    assert check_dialogs([near_miss]).rejections[0].rule == "tool_called_in_non_tool"


def test_every_type_gets_its_own_requests(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    result = write_instructions(tool, LLMGateway(llm_config), SimulationSettings())
    by_type = {i.dialog_type: i for i in result.instructions}
    assert set(by_type) == {"single", "parallel", "dependent", "non_tool", "multi_turn"}
    assert len(by_type["parallel"].functions) >= 2 and len(by_type["dependent"].functions) >= 2
    assert by_type["non_tool"].functions == []
    assert 2 <= by_type["multi_turn"].follow_ups <= 4 == max(follow_ups(f"t-{n}") for n in range(20))
    prompts = {r["messages"][1]["content"][:150] for r in scripted_llm.requests}
    assert len(prompts) == 5  # one prompt per type
    assert not result.shortfall


def test_a_dependent_call_stays_open_when_no_parameter_can_take_a_result_value():
    spec = {
        "paths": {
            "/n": {
                "get": {
                    "operationId": "byName",
                    "parameters": [
                        {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {},
                }
            }
        }
    }
    strings = assistant.decoding_schema([spec], assistant.Moves(depend_on=["rec-1"], finish=False))
    (branch, _ask) = strings["anyOf"]
    assert branch["properties"]["action_input"]["properties"]["q"] == {"enum": ["rec-1"]}
    # only a number came back, and no parameter takes numbers: the call is offered unrestricted
    numbers = assistant.decoding_schema([spec], assistant.Moves(depend_on=[12.5], finish=False))
    assert numbers["anyOf"][0]["properties"]["action_input"]["properties"]["q"]["type"] == "string"
    with pytest.raises(assistant.NoMoveLeft, match="no move is open"):
        assistant.decoding_schema([spec], assistant.Moves(call=False, ask=False, finish=False))


def test_a_tool_that_cannot_have_a_types_shape_gets_no_requests_of_it():
    ping = {"paths": {"/ping": {"get": {"operationId": "ping", "responses": {}}}}}
    assert "no function of the tool takes a parameter" in unfit_tool("dependent", ping)
    assert "no two different calls to make at once" in unfit_tool("parallel", ping)
    assert unfit_tool("single", ping) is None and unfit_tool("multi_turn", ping) is None


def test_a_dialogue_the_protocol_left_without_a_move_is_rejected_by_what_it_lacks(single):
    stuck = {"ending": "no_move_left", "ending_detail": "no move is open", "final_answer": ""}
    dependent = single.model_copy(update={**stuck, "dialog_type": "dependent"})
    plain = single.model_copy(update=stuck)
    assert [r.rule for r in check_dialogs([dependent, plain]).rejections] == [
        "not_dependent",
        "no_final_answer",
    ]
    assert check_dialogs([plain]).rejections[0].reason == "no move is open"


def test_several_tools_per_dialogue_offer_others_of_the_category(scripted_llm, llm_config, tool):
    seeds = [
        SEED.model_copy(update={"seed_id": seed_id, "name": name})
        for seed_id, name in [("atlas", "Atlas"), ("globe", "Globe"), ("map", "Map"), ("atlas-2", "Atlas")]
    ]
    scripted(scripted_llm, AssistantTurn=turns(call("searchGlobe", query="Lisbon"), finish()))
    settings = SimulationSettings(tools_per_dialog=3, dialog_mix={"single": 1})
    gateway = LLMGateway(llm_config)
    batch = simulate_batch(tool, [instruction("single")], gateway, settings, seeds)
    ((_, dialog),) = batch.results
    # the tool the request was written for, then two of its category, in an order drawn from the
    # dialogue's id; "atlas-2" has the same function names as "atlas", so it cannot be told apart
    assert dialog.tool_ids[0] == "atlas" and sorted(dialog.tool_ids[1:]) == ["globe", "map"]
    offered_names = [t["function"]["name"] for t in json.loads(dialog.tools)]
    assert len(offered_names) == 6 and {"searchGlobe", "getMapRecord"} <= set(offered_names)
    first = assistant_requests(scripted_llm)[0]
    assert set(offered(first)) == {*offered_names, "getDetails"}
    assert "Globe:\n" in first["messages"][0]["content"]  # each tool's functions under its name
    # the call went to the Globe API's executor
    (executor,) = [r for r in scripted_llm.requests if responders.schema_name(r) == "ExecutorAnswer"]
    assert "API: Globe" in "\n".join(m["content"] for m in executor["messages"])
    assert check_dialogs([dialog]).accepted
    # the same dialogue offers the same tools again (a re-run costs nothing twice)
    scripted(scripted_llm, AssistantTurn=turns(call("searchGlobe", query="Lisbon"), finish()))
    again = simulate_batch(tool, [instruction("single")], gateway, settings, seeds)
    assert again.results[0][1].tool_ids == dialog.tool_ids


def test_an_empty_answer_to_an_earlier_request_is_rejected(scripted_llm, llm_config, tool):
    answers = iter([call("searchAtlas", query="Lisbon"), finish("   "), call("searchAtlas", query="Porto")])
    scripted(scripted_llm, AssistantTurn=lambda request: next(answers, finish("Porto has 2 records.")))
    dialog = checked(tool, llm_config, "multi_turn")
    assert dialog.turns == 3 and dialog.final_answer == "Porto has 2 records."
    assert (dialog.rejection_rule, dialog.rejection_reason) == (
        "no_final_answer",
        "the final answer to request 1 of 3 is empty",
    )
