"""Complexity (ToolACE): a score from what can be counted in a dialogue, its band, and `--complexity`
steering the instructions, the follow-ups and the tools offered."""

from __future__ import annotations

import json

from agents.llm.gateway import LLMGateway
from bench import responders
from schemas.complexity import band, complexity_score, dependency_depth
from schemas.dialog import Message, ToolCall
from tasks.simulation import SimulationSettings, simulate, tools_offered, write_instructions
from tests.support.scripts import instruction, scripted


def called(call_id: str, name: str, **arguments: object) -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=json.dumps(arguments))


def result(call_id: str, body: dict) -> Message:
    return Message(role="tool", tool_call_id=call_id, content=json.dumps(body), status_code=200)


ASK = Message(role="user", content="Find records about Lisbon")
ANSWER = Message(role="assistant", content="Here they are.")


def test_the_score_adds_what_makes_a_dialogue_harder():
    single = [ASK, Message(role="assistant", tool_calls=[called("c1", "search", query="Lisbon")]), ANSWER]
    assert complexity_score(single, functions_offered=2) == 2.29 and band(2.29) == "easy"
    both = Message(
        role="assistant",
        tool_calls=[called("c1", "search", query="Lisbon"), called("c2", "search", query="Porto")],
    )
    assert complexity_score([ASK, both, ANSWER], functions_offered=2) == 3.29  # medium
    chain = [
        ASK,
        Message(role="assistant", tool_calls=[called("c1", "search", query="Lisbon")]),
        result("c1", {"results": ["rec-77"]}),
        Message(role="assistant", tool_calls=[called("c2", "get", recordId="rec-77")]),
        result("c2", {"id": "rec-77", "owner": "usr-12"}),
        Message(role="assistant", tool_calls=[called("c3", "owner", userId="usr-12")]),
        ANSWER,
    ]
    assert dependency_depth(chain) == 3 and dependency_depth(single) == 1 and dependency_depth([ASK]) == 0
    assert complexity_score(chain, functions_offered=3) == 7.5 and band(7.5) == "hard"
    # a value the user gave does not make a call dependent, nor does a nested argument go unnoticed
    echo = [
        *chain[:2],
        result("c1", {"results": ["Lisbon"]}),
        Message(role="assistant", tool_calls=[called("c2", "get", recordId="Lisbon", filter={"a": 1})]),
    ]
    assert dependency_depth(echo) == 1
    assert complexity_score(echo, 2) == round(0.5 * 1.585 + 2 + 0.5 * 1.5 + 1, 2)


def test_the_canned_dialogues_are_recorded_with_their_score(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    gateway, settings = LLMGateway(llm_config), SimulationSettings()
    dialogs = {
        kind: simulate(tool, instruction(kind), gateway, settings)
        for kind in ("single", "dependent", "multi_turn")
    }
    assert dialogs["single"].complexity_band == "easy" and dialogs["single"].functions_offered == 2
    assert dialogs["dependent"].dependency_depth == 2
    assert dialogs["multi_turn"].complexity_band == "hard"
    assert all(d.complexity == complexity_score(d.messages, 2) for d in dialogs.values())


def test_complexity_steers_the_prompt_the_follow_ups_and_the_tools_offered(scripted_llm, llm_config, tool):
    mix = {"single": 0.5, "multi_turn": 0.5}
    written = {}
    for level in ("easy", "mixed", "hard"):
        scripted(scripted_llm)
        settings = SimulationSettings(
            instructions_per_tool=2, dialog_mix=mix, complexity=level, tools_per_dialog=2
        )
        result = write_instructions(tool, LLMGateway(llm_config), settings)
        prompts = "\n".join(r["messages"][1]["content"] for r in scripted_llm.requests)
        written[level] = (result.instructions, prompts, settings)
    easy, _, easy_settings = written["easy"]
    assert "Keep every request simple" in written["easy"][1] and "demanding" not in written["easy"][1]
    assert "Make every request demanding" in written["hard"][1]
    assert "Keep every request simple" not in written["mixed"][1] and "demanding" not in written["mixed"][1]
    assert [i.complexity for i in easy] == ["easy", "easy"] and easy[1].follow_ups == 2
    hard, _, hard_settings = written["hard"]
    assert hard[1].follow_ups == 4
    assert tools_offered(easy_settings, easy[0]) == 1 and tools_offered(hard_settings, hard[0]) == 3
    mixed, _, mixed_settings = written["mixed"]
    assert tools_offered(mixed_settings, mixed[0]) == 2 and 2 <= mixed[1].follow_ups <= 4
    assert responders.schema_name(scripted_llm.requests[0]) == "InstructionBatch"
