"""The three-agent simulation with a scripted fake LLM: filters, clarifications, chains, instructions."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agents.assistant import agent as assistant
from agents.llm.gateway import LLMGateway
from agents.user.agent import drop_near_duplicates, near_duplicate
from bench import responders
from schemas.dialog import Dialog
from schemas.react import render_react, step_count
from schemas.rejection import Rejection
from schemas.simulation import DraftInstruction, Instruction
from schemas.tool import Tool
from tasks.checks import check_dialogs
from tasks.simulation import DEFAULT_MIX, SimulationSettings, simulate, write_instructions
from tests.support.scripts import call, finish, scripted, search_then_fetch, turns

INSTRUCTION = Instruction(
    instruction_id="atlas-1",
    tool_id="atlas",
    text="Find records about Lisbon for me",
    style="command",
    functions=["searchAtlas"],
)


def run(tool: Tool, llm_config, **settings: Any) -> Dialog:
    """The dialogue as the run files it: simulated, then through the checks step."""
    simulated = simulate(tool, INSTRUCTION, LLMGateway(llm_config), SimulationSettings(**settings))
    assert simulated.status == "simulated" and simulated.rejection_rule is None
    checked = check_dialogs([simulated])
    (dialog,) = checked.accepted + checked.rejected
    rule, reason = str(dialog.rejection_rule), dialog.rejection_reason
    expected = [Rejection(item_id="atlas-1", step="checks", rule=rule, reason=reason)]
    assert checked.rejections == (expected if checked.rejected else [])
    return dialog


def test_a_function_call_then_a_final_answer_is_accepted(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    dialog = run(tool, llm_config)
    assert dialog.status == "accepted" and dialog.rejection_rule is None, dialog.rejection_reason
    assert dialog.calls == 1 and dialog.functions_used == ["searchAtlas"]
    request, calling, result, answer = dialog.messages
    assert (request.role, request.content) == ("user", INSTRUCTION.text)
    (made,) = calling.tool_calls
    assert (made.id, made.name, set(json.loads(made.arguments))) == (
        "call_1",
        "searchAtlas",
        {"query", "limit"},
    )
    assert (result.role, result.tool_call_id, result.name) == ("tool", "call_1", "searchAtlas")
    assert result.status_code == 200
    assert set(json.loads(result.content)) == {"results", "count"}
    assert (answer.role, answer.tool_calls, answer.content) == ("assistant", [], dialog.final_answer)
    assert (dialog.turns, dialog.calls_per_turn, dialog.distinct_functions) == (1, 1, 1)
    offered = json.loads(dialog.tools)
    assert {t["function"]["name"] for t in offered} == {"searchAtlas", "getAtlasRecord"}
    assert offered[0]["type"] == "function" and offered[0]["function"]["parameters"]["type"] == "object"
    assert (dialog.dialog_type, dialog.tool_ids) == ("single", ["atlas"])
    assert dialog.llm_calls == 3 and dialog.prompt_tokens > 0  # assistant, executor, assistant


def test_more_than_max_steps_is_rejected(scripted_llm, llm_config, tool):
    cities = iter(["Lisbon", "Porto", "Faro", "Braga"])
    scripted(scripted_llm, AssistantTurn=lambda request: call("searchAtlas", query=next(cities)))
    dialog = run(tool, llm_config, max_steps=2)
    assert dialog.status == "rejected" and dialog.rejection_rule == "too_many_steps"
    assert step_count(dialog.messages) == dialog.calls == 2


def test_finishing_before_any_call_is_not_a_move_even_after_a_clarification(scripted_llm, llm_config, tool):
    """The protocol is in the decoding schema: until a call is made, the final answer is not offered
    (and a model that writes it anyway is told so, then rejected); one question per request."""
    scripted(
        scripted_llm, AssistantTurn=turns(call("getDetails", Question="Which city do you mean?"), finish())
    )
    dialog = run(tool, llm_config)
    assert dialog.rejection_rule == "unparseable_output" and dialog.calls == 0
    assert "action 'finish' is not one of ['searchAtlas', 'getAtlasRecord']" in dialog.rejection_reason
    question, reply = dialog.messages[1:3]
    assert question.clarification and reply.clarification and reply.role == "user"
    schemas = [r["response_format"]["json_schema"]["schema"] for r in scripted_llm.requests[::1]]
    actions = [[b["properties"]["action"]["const"] for b in s["anyOf"]] for s in schemas if "anyOf" in s]
    assert actions[0] == ["searchAtlas", "getAtlasRecord", "getDetails"]  # no finish before a call
    assert actions[-1] == ["searchAtlas", "getAtlasRecord"]  # and no second question


def test_unparseable_assistant_output_is_rejected(scripted_llm, llm_config, tool):
    scripted(scripted_llm, AssistantTurn=lambda r: "Thought: I am not JSON")
    dialog = run(tool, llm_config)
    assert dialog.rejection_rule == "unparseable_output" and "assistant" in dialog.rejection_reason


def test_unknown_action_is_fed_back_then_rejected(scripted_llm, llm_config, tool):
    scripted(scripted_llm, AssistantTurn=turns(call("deleteEverything")))
    dialog = run(tool, llm_config)
    assert dialog.rejection_rule == "unparseable_output" and "deleteEverything" in dialog.rejection_reason
    assert "is not one of" in scripted_llm.requests[-1]["messages"][-1]["content"]


def three_records(request: dict[str, Any]) -> dict[str, Any]:
    """The search's answer the final answers here tell: 3 records (one the rule layer accepts names
    something a result held)."""
    return {"status_code": 200, "body": {"results": ["rec-1", "rec-2", "rec-3"], "count": 3}}


def test_repeating_an_answered_call_is_fed_back(scripted_llm, llm_config, tool):
    lisbon = call("searchAtlas", query="Lisbon")
    scripted(scripted_llm, AssistantTurn=turns(lisbon, lisbon, finish()), ExecutorAnswer=three_records)
    dialog = run(tool, llm_config)
    assert dialog.status == "accepted" and dialog.calls == 1
    feedback = [m["content"] for r in scripted_llm.requests for m in r["messages"] if m["role"] == "user"]
    assert any("step 1 already did searchAtlas with this input" in text for text in feedback)


def test_an_answered_call_without_input_cannot_be_decoded_again():
    spec = {
        "paths": {
            "/all": {"get": {"operationId": "listAll", "responses": {}}},
            "/search": {
                "get": {
                    "operationId": "search",
                    "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                    "responses": {},
                }
            },
        }
    }

    def branch(schema: dict, action: str) -> dict | None:
        found = [b for b in schema["anyOf"] if b["properties"]["action"] == {"const": action}]
        return found[0] if found else None

    fresh = assistant.decoding_schema([spec], assistant.Moves())
    assert branch(fresh, "listAll")
    assert branch(fresh, "search")["properties"]["action_input"]["required"] == []
    assert branch(fresh, "listAll")["properties"]["action_input"]["additionalProperties"] is False  # closed
    answered = {("listAll", "{}"): 1, ("search", "{}"): 2}
    later = assistant.decoding_schema([spec], assistant.Moves(answered=answered))
    assert branch(later, "listAll") is None  # no other input exists
    variants = branch(later, "search")["properties"]["action_input"]["anyOf"]
    assert [v["required"] for v in variants] == [["q"]]  # at least one parameter this time
    assert branch(later, "finish") and branch(later, "getDetails")


def test_an_empty_final_answer_is_rejected(scripted_llm, llm_config, tool):
    scripted(scripted_llm, AssistantTurn=turns(call("searchAtlas", query="Lisbon"), finish("  ")))
    assert run(tool, llm_config).rejection_rule == "no_final_answer"


def test_clarification_round_trip_through_the_user_agent(scripted_llm, llm_config, tool):
    seen_by_user: list[str] = []

    def reply(request):
        seen_by_user.append("\n".join(m["content"] for m in request["messages"]))
        return {"reply": "Porto, please."}

    scripted(
        scripted_llm,
        AssistantTurn=turns(
            call("getDetails", Question="Which city should I search for?"),
            call("searchAtlas", query="Porto"),
            finish("Porto has 3 records."),
        ),
        UserReply=reply,
        ExecutorAnswer=three_records,
    )
    dialog = run(tool, llm_config)
    assert dialog.status == "accepted" and step_count(dialog.messages) == 2, dialog.rejection_reason
    _, ask, reply, search, _, _ = dialog.messages
    assert (ask.role, ask.clarification) == ("assistant", True)
    assert ask.content == "Which city should I search for?"
    assert (reply.role, reply.content, reply.clarification) == ("user", "Porto, please.", True)
    assert dialog.turns == 1  # a reply to a question is not a request
    assert "Which city should I search for?" in seen_by_user[0] and INSTRUCTION.text in seen_by_user[0]
    assert json.loads(search.tool_calls[0].arguments) == {"query": "Porto"}
    # the assistant saw the user's answer before its second action
    assistant_prompts = [r for r in scripted_llm.requests if responders.schema_name(r) == "AssistantTurn"]
    assert "Observation: Porto, please." in assistant_prompts[1]["messages"][-1]["content"]


def test_a_second_call_uses_the_id_returned_by_the_first(scripted_llm, llm_config, tool):
    search_then_fetch(scripted_llm, ["rec-77"])
    dialog = run(tool, llm_config)
    assert dialog.status == "accepted", dialog.rejection_reason
    assert dialog.functions_used == ["searchAtlas", "getAtlasRecord"]
    first, second = (json.loads(m.content) for m in dialog.messages if m.role == "tool")
    assert first["results"] == ["rec-77"] and second["id"] == "rec-77"
    assert (dialog.calls, dialog.distinct_functions, dialog.calls_per_turn) == (2, 2, 1)


def test_a_tool_error_can_be_fixed_and_retried_but_the_wrong_call_rejects_the_dialog(
    scripted_llm, llm_config, tool
):
    """The simulation plays the error and the fix; the rule layer keeps no dialogue that teaches a call
    a real API refuses (`not_executable`)."""
    scripted(
        scripted_llm,
        AssistantTurn=turns(
            call("searchAtlas", limit=3), call("searchAtlas", query="Lisbon", limit=3), finish()
        ),
    )
    dialog = run(tool, llm_config)
    assert dialog.calls == 2 and dialog.rejection_rule == "not_executable"
    assert dialog.rejection_reason == "call_1 (searchAtlas): arguments: 'query' is a required property"
    error = next(m for m in dialog.messages if m.role == "tool")
    assert error.status_code == 400 and "query" in json.loads(error.content)["error"]["message"]


def test_invalid_observations_that_cannot_be_repaired_reject_the_dialog(scripted_llm, llm_config, tool):
    scripted(scripted_llm, ExecutorAnswer=lambda r: {"status_code": 200, "body": {"results": "not a list"}})
    dialog = run(tool, llm_config)
    assert dialog.rejection_rule == "invalid_observation" and "executor" in dialog.rejection_reason


def test_rendering_to_react_text(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    text = render_react(run(tool, llm_config))
    lines = text.splitlines()
    assert lines[0] == INSTRUCTION.text
    assert lines[1].startswith("Thought: ") and lines[2] == "Action: searchAtlas"
    assert lines[3].startswith("Action Input: {") and lines[4].startswith("Observation: {")
    told = lines[-1].removeprefix("Final Answer: Here is what the API returned for your request: ")
    assert lines[-2].startswith("Observation: {") and told.rstrip(".") in lines[-2]  # a value it returned


def test_instructions_have_stable_ids_and_valid_functions(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    settings = SimulationSettings(instructions_per_tool=3, dialog_mix={"single": 1})
    result = write_instructions(tool, LLMGateway(llm_config), settings)
    assert [i.instruction_id for i in result.instructions] == ["atlas-1", "atlas-2", "atlas-3"]
    assert all(i.functions == ["searchAtlas"] for i in result.instructions) and result.rejection is None
    schema = scripted_llm.requests[-1]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["instructions"]["minItems"] == 3


def test_placeholders_and_unknown_functions_are_fed_back(scripted_llm, llm_config, tool):
    answers = iter(
        [
            {
                "instructions": [
                    {
                        "text": "Find records about <city> please",
                        "style": "command",
                        "functions": ["searchAtlas"],
                    }
                ]
            },
            {
                "instructions": [
                    {"text": "Find records about Lima please", "style": "command", "functions": ["nope"]}
                ]
            },
            {
                "instructions": [
                    {
                        "text": "Find records about Lima please",
                        "style": "command",
                        "functions": ["searchAtlas"],
                    }
                ]
            },
        ]
    )
    scripted(scripted_llm, InstructionBatch=lambda r: next(answers))
    settings = SimulationSettings(instructions_per_tool=1, dialog_mix={"single": 1})
    result = write_instructions(tool, LLMGateway(llm_config), settings)
    assert [i.text for i in result.instructions] == ["Find records about Lima please"]
    feedback = [r["messages"][-1]["content"] for r in scripted_llm.requests[1:]]
    assert "placeholder '<city>'" in feedback[0] and "['nope'] are not functions" in feedback[1]


def test_fewer_instructions_than_asked_are_explained(scripted_llm, llm_config, tool):
    draft = {"text": "Find records about Lima please", "style": "command", "functions": ["searchAtlas"]}
    repeat = {**draft, "text": "find records about Lima, please!"}
    scripted(scripted_llm, InstructionBatch=lambda r: {"instructions": [draft, repeat]})
    settings = SimulationSettings(instructions_per_tool=2, dialog_mix={"single": 1})
    result = write_instructions(tool, LLMGateway(llm_config), settings)
    assert [i.text for i in result.instructions] == [draft["text"]] and result.rejection is None
    assert result.shortfall.startswith("1 of 2 single instructions; dropped as near-duplicates:")
    assert "Lima, please!" in result.shortfall


def test_instructions_that_never_validate_are_reported_not_raised(scripted_llm, llm_config, tool):
    scripted(scripted_llm, InstructionBatch=lambda r: "nothing useful")
    settings = SimulationSettings(instructions_per_tool=2, dialog_mix={"single": 1})
    result = write_instructions(tool, LLMGateway(llm_config), settings)
    assert result.instructions == [] and result.rejection is not None
    assert (result.rejection.step, result.rejection.rule) == ("instructions", "no_instructions")
    assert "user (single):" in result.rejection.reason


def test_near_duplicates_are_removed():
    drafts = [
        DraftInstruction(text="Find cat facts about sleeping cats", style="command", functions=["f"]),
        DraftInstruction(text="find cat facts about sleeping cats!", style="question", functions=["f"]),
        DraftInstruction(text="What breeds of cats come from Norway?", style="question", functions=["f"]),
    ]
    assert [d.text for d in drop_near_duplicates(drafts)] == [drafts[0].text, drafts[2].text]
    assert not near_duplicate("a b c d", "e f g h")


def test_a_dialogue_renders_to_the_same_react_text_and_prompts_as_the_step_record_did(
    scripted_llm, llm_config, tool
):
    """The ReAct text of a dialogue (a clarification, a failed call, a chained call, non-ASCII text)
    and every prompt the assistant saw are byte for byte what the step-list record gave for the same
    LLM answers (tests/data/react_golden.json, written by the code before messages): the training text
    is unchanged, and a cache filled before still answers the same requests."""
    golden = json.loads((Path(__file__).parent / "data" / "react_golden.json").read_text(encoding="utf-8"))

    def executor(request):
        text = "\n".join(m["content"] for m in request["messages"])
        if "/records/rec-77" in text:
            body = {"id": "rec-77", "title": "Lisboa – capital", "details": "Capital", "n": 1.5}
            return {"status_code": 200, "body": body}
        return {"status_code": 200, "body": {"results": ["rec-77"], "count": 1}}

    scripted(
        scripted_llm,
        AssistantTurn=turns(
            call("getDetails", Question="Which city should I search for?"),
            call("searchAtlas", limit=3),
            call("searchAtlas", query="Lisboa ção", limit=3),
            call("getAtlasRecord", recordId="rec-77"),
            finish("Record rec-77 is Lisboa – the capital."),
        ),
        UserReply=lambda request: {"reply": "Lisboa, please."},
        ExecutorAnswer=executor,
    )
    dialog = run(tool, llm_config)
    prompts = [r["messages"] for r in scripted_llm.requests if responders.schema_name(r) == "AssistantTurn"]
    assert golden["status"] == "accepted"  # before the rule layer, which refuses the failed call
    assert dialog.rejection_rule == "not_executable" and dialog.rejection_reason.startswith("call_1 ")
    assert render_react(dialog) == golden["react"]
    assert prompts == golden["prompts"]


# -- dialogue types -----------------------------------------------------------------------------------

NON_TOOL = Instruction(
    instruction_id="atlas-2",
    tool_id="atlas",
    dialog_type="non_tool",
    text="What is a good way to spend a rainy weekend in Lisbon?",
    style="question",
    functions=[],
)


def test_whole_shares_of_the_mix_are_exact_for_every_tool():
    ten = {"single": 3, "parallel": 2, "dependent": 2, "non_tool": 1, "multi_turn": 2}
    assert all(SimulationSettings().counts(f"tool-{n}") == ten for n in range(50))
    half = {"single": 0.5, "non_tool": 0.5}
    assert SimulationSettings(instructions_per_tool=4, dialog_mix=half).counts("atlas") == {
        "single": 2,
        "non_tool": 2,
    }
    assert SimulationSettings(dialog_mix={"single": 1, "non_tool": 0}).counts("atlas") == {"single": 10}
    for bad in ({"single": -1.0}, {"single": 0.0}, {"sequential": 1.0}):
        with pytest.raises(ValueError):
            SimulationSettings(dialog_mix=bad)


@pytest.mark.parametrize("per_tool", [1, 3, 4, 6])
def test_a_corpus_gets_the_mix_whatever_the_count_per_tool(per_tool: int):
    settings = SimulationSettings(instructions_per_tool=per_tool)
    tools = [f"tool-{n}" for n in range(2000)]
    total: Counter[str] = Counter()
    for tool_id in tools:
        counts = settings.counts(tool_id)
        assert counts == settings.counts(tool_id)  # the same tool, the same counts
        assert sum(counts.values()) == per_tool
        for kind, share in DEFAULT_MIX.items():  # its share, rounded down or up
            assert math.floor(per_tool * share) <= counts.get(kind, 0) <= math.ceil(per_tool * share)
        total.update(counts)
    asked = per_tool * len(tools)
    for kind, share in DEFAULT_MIX.items():  # non_tool too, though a tenth of 4 is under one
        assert abs(total[kind] / asked - share) < 0.02, (kind, total[kind], asked)


def test_non_tool_instructions_are_numbered_after_the_single_ones(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    settings = SimulationSettings(instructions_per_tool=4, dialog_mix={"single": 0.5, "non_tool": 0.5})
    result = write_instructions(tool, LLMGateway(llm_config), settings)
    assert [i.instruction_id for i in result.instructions] == ["atlas-1", "atlas-2", "atlas-3", "atlas-4"]
    assert [i.dialog_type for i in result.instructions] == ["single", "single", "non_tool", "non_tool"]
    assert [i.functions for i in result.instructions[2:]] == [[], []]
    asked = [responders.schema_name(r) for r in scripted_llm.requests]
    assert asked == ["InstructionBatch", "NonToolBatch"] and not result.shortfall


def test_a_non_tool_dialogue_is_answered_without_a_call(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    simulated = simulate(tool, NON_TOOL, LLMGateway(llm_config), SimulationSettings())
    checked = check_dialogs([simulated])
    (dialog,) = checked.accepted
    assert (dialog.dialog_type, dialog.calls, dialog.turns) == ("non_tool", 0, 1)
    assert [m.role for m in dialog.messages] == ["user", "assistant"] and dialog.final_answer
    # the protocol is in the grammar: finishing was the only move the assistant could decode
    (request,) = scripted_llm.requests
    branches = request["response_format"]["json_schema"]["schema"]["anyOf"]
    assert [b["properties"]["action"]["const"] for b in branches] == ["finish"]
    assert render_react(dialog) == f"{NON_TOOL.text}\nFinal Answer: {dialog.final_answer}"


def test_a_dialogue_without_the_shape_of_its_type_is_rejected_by_a_rule_naming_it(
    scripted_llm, llm_config, tool
):
    scripted(scripted_llm)
    gateway, settings = LLMGateway(llm_config), SimulationSettings()
    single = simulate(tool, INSTRUCTION, gateway, settings)
    non_tool = simulate(tool, NON_TOOL, gateway, settings)
    # near-misses: a non_tool dialogue that calls a tool, a single one that calls none
    calls_a_tool = single.model_copy(update={"dialog_type": "non_tool"})
    calls_none = non_tool.model_copy(update={"dialog_type": "single"})
    checked = check_dialogs([single, non_tool, calls_a_tool, calls_none])
    assert [d.dialog_type for d in checked.accepted] == ["single", "non_tool"]
    assert [(r.rule, r.reason) for r in checked.rejections] == [
        (
            "tool_called_in_non_tool",
            "a non_tool dialogue is answered without a call; the assistant called searchAtlas",
        ),
        ("no_function_call", "the assistant called no function"),
    ]
    # the assistant cannot even be made to call one: a call is refused in a non_tool dialogue
    turn = assistant.AssistantTurn(thought="t", action="searchAtlas", action_input={"query": "x"})
    with pytest.raises(ValueError, match=r"not one of \['finish'\]"):
        assistant.check_turn(turn, ["searchAtlas"], assistant.moves_for("non_tool", []))
