"""The three-agent simulation with a scripted fake LLM: filters, clarifications, chains, instructions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from agents.assistant import agent as assistant
from agents.llm.gateway import LLMGateway
from agents.user.agent import drop_near_duplicates, near_duplicate
from bench import responders
from schemas.instance import DraftInstruction, Instance, Instruction
from schemas.react import render_react
from schemas.rejection import Rejection
from schemas.seed import Seed
from schemas.tool import Tool
from tasks.checks import check_instances
from tasks.simulation import SimulationSettings, simulate, write_instructions
from tasks.toolset import build_tool
from tests.fake_llm import ScriptedLLM

SEED = Seed(
    seed_id="atlas",
    name="Atlas",
    description="Records about places",
    category="Geo",
    link="https://atlas.example.org",
    source="test",
)
INSTRUCTION = Instruction(
    instruction_id="atlas-1",
    tool_id="atlas",
    text="Find records about Lisbon for me",
    style="command",
    functions=["searchAtlas"],
)


@pytest.fixture
def tool(scripted_llm: ScriptedLLM, llm_config) -> Tool:
    scripted_llm.script = responders.toolforge
    built = build_tool(SEED, LLMGateway(llm_config))
    assert isinstance(built, Tool)
    return built


def scripted(scripted_llm: ScriptedLLM, **by_schema: Callable[[dict[str, Any]], Any]) -> None:
    """Answer the named schemas with the given functions (dicts are dumped), the rest canned."""

    def script(request: dict[str, Any]) -> str:
        name = responders.schema_name(request)
        if name in by_schema:
            answer = by_schema[name](request)
            return answer if isinstance(answer, str) else json.dumps(answer)
        return responders.toolforge(request)

    scripted_llm.requests.clear()
    scripted_llm.script = script


def turns(*answers: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The assistant's answers, in order (the last one repeats)."""
    queue = list(answers)
    return lambda request: queue.pop(0) if len(queue) > 1 else queue[0]


def call(action: str, **action_input: Any) -> dict[str, Any]:
    return {"thought": f"I will call {action}.", "action": action, "action_input": action_input}


def finish(text: str = "Lisbon has 3 records.") -> dict[str, Any]:
    return {"thought": "I have what I need.", "action": "finish", "final_answer": text}


def run(tool: Tool, llm_config, **settings: Any) -> Instance:
    """The instance as the run files it: simulated, then through the checks step."""
    simulated = simulate(tool, INSTRUCTION, LLMGateway(llm_config), SimulationSettings(**settings))
    assert simulated.status == "simulated" and simulated.rejection_rule is None
    checked = check_instances([simulated])
    (instance,) = checked.accepted + checked.rejected
    rule, reason = str(instance.rejection_rule), instance.rejection_reason
    expected = [Rejection(item_id="atlas-1", step="checks", rule=rule, reason=reason)]
    assert checked.rejections == (expected if checked.rejected else [])
    return instance


def test_a_function_call_then_a_final_answer_is_accepted(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    instance = run(tool, llm_config)
    assert instance.status == "accepted" and instance.rejection_rule is None
    assert instance.step_count == 1 and instance.functions_used == ["searchAtlas"]
    step = instance.steps[0]
    assert step.observer == "tool" and step.status_code == 200
    observation = json.loads(step.observation)
    assert set(observation["body"]) == {"results", "count"}
    assert instance.llm_calls == 3 and instance.prompt_tokens > 0  # assistant, executor, assistant


def test_more_than_max_steps_is_rejected(scripted_llm, llm_config, tool):
    cities = iter(["Lisbon", "Porto", "Faro", "Braga"])
    scripted(scripted_llm, AssistantTurn=lambda request: call("searchAtlas", query=next(cities)))
    instance = run(tool, llm_config, max_steps=2)
    assert instance.status == "rejected" and instance.rejection_rule == "too_many_steps"
    assert instance.step_count == 2


def test_no_function_call_is_rejected_even_after_a_clarification(scripted_llm, llm_config, tool):
    scripted(scripted_llm, AssistantTurn=turns(finish()))
    assert run(tool, llm_config).rejection_rule == "no_function_call"
    scripted(
        scripted_llm, AssistantTurn=turns(call("getDetails", Question="Which city do you mean?"), finish())
    )
    instance = run(tool, llm_config.model_copy(update={"use_cache": False}))  # same first prompt as above
    assert instance.rejection_rule == "no_function_call" and instance.steps[0].observer == "user"


def test_unparseable_assistant_output_is_rejected(scripted_llm, llm_config, tool):
    scripted(scripted_llm, AssistantTurn=lambda r: "Thought: I am not JSON")
    instance = run(tool, llm_config)
    assert instance.rejection_rule == "unparseable_output" and "assistant" in instance.rejection_reason


def test_unknown_action_is_fed_back_then_rejected(scripted_llm, llm_config, tool):
    scripted(scripted_llm, AssistantTurn=turns(call("deleteEverything")))
    instance = run(tool, llm_config)
    assert instance.rejection_rule == "unparseable_output" and "deleteEverything" in instance.rejection_reason
    assert "is not one of" in scripted_llm.requests[-1]["messages"][-1]["content"]


def test_repeating_an_answered_call_is_fed_back(scripted_llm, llm_config, tool):
    lisbon = call("searchAtlas", query="Lisbon")
    scripted(scripted_llm, AssistantTurn=turns(lisbon, lisbon, finish()))
    instance = run(tool, llm_config)
    assert instance.status == "accepted" and instance.step_count == 1
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

    fresh = assistant.decoding_schema(spec)
    assert branch(fresh, "listAll")
    assert branch(fresh, "search")["properties"]["action_input"]["required"] == []
    answered = {("listAll", "{}"): 1, ("search", "{}"): 2}
    later = assistant.decoding_schema(spec, answered)
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
    )
    instance = run(tool, llm_config)
    assert instance.status == "accepted" and instance.step_count == 2
    ask, search = instance.steps
    assert (ask.observer, ask.observation) == ("user", "Porto, please.")
    assert "Which city should I search for?" in seen_by_user[0] and INSTRUCTION.text in seen_by_user[0]
    assert json.loads(search.action_input) == {"query": "Porto"}
    # the assistant saw the user's answer before its second action
    assistant_prompts = [r for r in scripted_llm.requests if responders.schema_name(r) == "AssistantTurn"]
    assert "Observation: Porto, please." in assistant_prompts[1]["messages"][-1]["content"]


def test_a_second_call_uses_the_id_returned_by_the_first(scripted_llm, llm_config, tool):
    def executor(request):
        text = "\n".join(m["content"] for m in request["messages"])
        if "/records/rec-77" in text:
            assert "rec-77" in text.split("/records/rec-77")[0]  # the earlier answer is remembered
            return {"status_code": 200, "body": {"id": "rec-77", "title": "Lisbon", "details": "Capital"}}
        return {"status_code": 200, "body": {"results": ["rec-77"], "count": 1}}

    scripted(
        scripted_llm,
        AssistantTurn=turns(
            call("searchAtlas", query="Lisbon"),
            call("getAtlasRecord", recordId="rec-77"),
            finish("Record rec-77 is Lisbon, the capital."),
        ),
        ExecutorAnswer=executor,
    )
    instance = run(tool, llm_config)
    assert instance.status == "accepted", instance.rejection_reason
    assert instance.functions_used == ["searchAtlas", "getAtlasRecord"]
    first, second = (json.loads(s.observation) for s in instance.steps)
    assert first["body"]["results"] == ["rec-77"] and second["body"]["id"] == "rec-77"


def test_a_tool_error_can_be_fixed_and_retried(scripted_llm, llm_config, tool):
    scripted(
        scripted_llm,
        AssistantTurn=turns(
            call("searchAtlas", limit=3), call("searchAtlas", query="Lisbon", limit=3), finish()
        ),
    )
    instance = run(tool, llm_config)
    assert instance.status == "accepted" and instance.step_count == 2
    error = json.loads(instance.steps[0].observation)
    assert error["status_code"] == 400 and "query" in error["body"]["error"]["message"]


def test_invalid_observations_that_cannot_be_repaired_reject_the_instance(scripted_llm, llm_config, tool):
    scripted(scripted_llm, ExecutorAnswer=lambda r: {"status_code": 200, "body": {"results": "not a list"}})
    instance = run(tool, llm_config)
    assert instance.rejection_rule == "invalid_observation" and "executor" in instance.rejection_reason


def test_rendering_to_react_text(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    text = render_react(run(tool, llm_config))
    lines = text.splitlines()
    assert lines[0] == INSTRUCTION.text
    assert lines[1].startswith("Thought: ") and lines[2] == "Action: searchAtlas"
    assert lines[3].startswith("Action Input: {") and lines[4].startswith("Observation: {")
    assert lines[-1] == "Final Answer: Here is what the API returned for your request."


def test_instructions_have_stable_ids_and_valid_functions(scripted_llm, llm_config, tool):
    scripted(scripted_llm)
    result = write_instructions(tool, LLMGateway(llm_config), SimulationSettings(instructions_per_tool=3))
    assert [i.instruction_id for i in result.instructions] == ["atlas-1", "atlas-2", "atlas-3"]
    assert all(i.functions == ["searchAtlas"] for i in result.instructions) and not result.problem
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
    result = write_instructions(tool, LLMGateway(llm_config), SimulationSettings(instructions_per_tool=1))
    assert [i.text for i in result.instructions] == ["Find records about Lima please"]
    feedback = [r["messages"][-1]["content"] for r in scripted_llm.requests[1:]]
    assert "placeholder '<city>'" in feedback[0] and "['nope'] are not functions" in feedback[1]


def test_fewer_instructions_than_asked_are_explained(scripted_llm, llm_config, tool):
    draft = {"text": "Find records about Lima please", "style": "command", "functions": ["searchAtlas"]}
    repeat = {**draft, "text": "find records about Lima, please!"}
    scripted(scripted_llm, InstructionBatch=lambda r: {"instructions": [draft, repeat]})
    result = write_instructions(tool, LLMGateway(llm_config), SimulationSettings(instructions_per_tool=2))
    assert [i.text for i in result.instructions] == [draft["text"]] and not result.problem
    assert result.shortfall.startswith("1 of 2 instructions; dropped as near-duplicates:")
    assert "Lima, please!" in result.shortfall


def test_instructions_that_never_validate_are_reported_not_raised(scripted_llm, llm_config, tool):
    scripted(scripted_llm, InstructionBatch=lambda r: "nothing useful")
    result = write_instructions(tool, LLMGateway(llm_config), SimulationSettings(instructions_per_tool=2))
    assert result.instructions == [] and "user:" in result.problem


def test_near_duplicates_are_removed():
    drafts = [
        DraftInstruction(text="Find cat facts about sleeping cats", style="command", functions=["f"]),
        DraftInstruction(text="find cat facts about sleeping cats!", style="question", functions=["f"]),
        DraftInstruction(text="What breeds of cats come from Norway?", style="question", functions=["f"]),
    ]
    assert [d.text for d in drop_near_duplicates(drafts)] == [drafts[0].text, drafts[2].text]
    assert not near_duplicate("a b c d", "e f g h")
