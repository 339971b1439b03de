"""The evaluation of a model on held-out cases, with a scripted model under test: each of ToolAlpaca's
six error kinds, call accuracy, the judge's verdicts and overall, follow-ups, and the scores."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from agents.assistant.react_text import UnparsedStep, read_step
from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway
from bench import responders
from schemas.evaluation import EvalCase, EvalResult, GoldenStep, GoldenTurn
from schemas.simulation import ASK_USER, FINISH, PARALLEL
from schemas.tool import Tool
from tasks.evaluation.case import evaluate_case
from tasks.evaluation.play import PlaySettings
from tasks.evaluation.rules import same_value
from tasks.evaluation.scores import model_scores, scores_table
from tests.support.fake_llm import ScriptedLLM

REACT_MARK = "Work in steps, in this format:"


def step(action: str, **arguments: Any) -> str:
    return f"Thought: I call {action}.\nAction: {action}\nAction Input: {json.dumps(arguments)}\n"


def final(text: str = "Lisbon has 3 records.") -> str:
    return f"Thought: I have what I need.\nFinal Answer: {text}"


def model_answers(scripted_llm: ScriptedLLM, *answers: str, judge: dict[str, str] | None = None) -> list[str]:
    """The model under test writes `answers` in order (the last repeats); the executor and the user
    are the canned responders; the judge says `judge` (Yes / Yes by default). Returns the prompts the
    model was given."""
    queue, prompts = list(answers), []

    def script(request: dict[str, Any]) -> str | tuple[str, str]:
        text = "\n".join(str(m["content"]) for m in request["messages"])
        if REACT_MARK in text:
            prompts.append(text)
            return queue.pop(0) if len(queue) > 1 else queue[0]
        if responders.schema_name(request) == "TrajectoryJudgement":
            verdict = judge or {"process": "Yes", "response": "Yes"}
            return json.dumps({"analysis": "Compared with the standard answer.", **verdict})
        answer = responders.toolforge(request)
        return answer if isinstance(answer, str) else json.dumps(answer)

    scripted_llm.requests.clear()
    scripted_llm.script = script
    return prompts


def case(*turns: tuple[str, list[tuple[str, dict[str, Any]]]], kind: str = "single") -> EvalCase:
    return EvalCase(
        case_id="atlas-1",
        source="run",
        tool_ids=["atlas"],
        dialog_type=kind,  # type: ignore[arg-type]
        turns=[
            GoldenTurn(
                request=request,
                steps=[GoldenStep(action=a, action_input=json.dumps(i)) for a, i in steps],
            )
            for request, steps in turns
        ],
    )


LISBON = case(("Find records about Lisbon for me", [("searchAtlas", {"query": "Lisbon"})]))


def evaluate(
    tool: Tool, llm_config: LLMConfig, the_case: EvalCase = LISBON, cache: str = "", **settings: Any
) -> EvalResult:
    """The scripted model on `the_case`, with a cache of its own unless `cache` names one (each test
    scripts other answers to the same prompts)."""
    llm_config = llm_config.model_copy(
        update={"cache_dir": f"{llm_config.cache_dir}/{cache or uuid.uuid4().hex}"}
    )
    model = LLMGateway(llm_config.model_copy(update={"repair_attempts": 0}))
    simulators = LLMGateway(llm_config)
    return evaluate_case("scripted/under-test", the_case, [tool], model, simulators, PlaySettings(**settings))


def kinds(result: EvalResult) -> set[str]:
    return {error.kind for error in result.errors}


def test_a_correct_solution_has_no_error_and_is_correct_overall(scripted_llm, llm_config, tool):
    prompts = model_answers(scripted_llm, step("searchAtlas", query="Lisbon"), final())
    result = evaluate(tool, llm_config)
    assert result.ending == "final_answer" and result.final_answer == "Lisbon has 3 records."
    assert result.errors == []
    assert result.call_accuracy is True and result.call_problems == []
    assert (result.procedure, result.response, result.overall) == ("Yes", "Yes", True)
    assert result.model_calls == 2 and result.simulator_calls == 1
    # the model sees the react export's prompt, then its step with the tool's observation
    assert prompts[0].endswith("User request: Find records about Lisbon for me\n")
    assert (
        'Action: searchAtlas\nAction Input: {"query": "Lisbon"}\nObservation: {"status_code": 200'
        in prompts[1]
    )
    assert prompts[1].endswith("\n") and "Final Answer: Lisbon" not in prompts[1]
    assert "Thought:" in result.react and "Final Answer: Lisbon has 3 records." in result.react


def test_the_react_request_stops_before_the_observation(scripted_llm, llm_config, tool):
    model_answers(scripted_llm, step("searchAtlas", query="Lisbon"), final())
    evaluate(tool, llm_config)
    asked = [r for r in scripted_llm.requests if REACT_MARK in str(r["messages"][0]["content"])]
    assert asked and all(r["stop"] == ["Observation:"] for r in asked)


def test_parse_error(scripted_llm, llm_config, tool):
    model_answers(scripted_llm, "I am not sure what you want.")
    result = evaluate(tool, llm_config)
    assert result.ending == "parse_error"
    assert kinds(result) == {"parse_error", "wrong_answer"}
    assert result.call_accuracy is False


def test_an_action_input_that_is_not_json_is_a_parse_error(scripted_llm, llm_config, tool):
    model_answers(scripted_llm, "Thought: go\nAction: searchAtlas\nAction Input: Lisbon please\n")
    result = evaluate(tool, llm_config)
    assert result.ending == "parse_error" and "not a JSON object" in result.ending_detail


def test_a_step_cut_at_the_token_limit_is_read_as_far_as_it_goes(scripted_llm, llm_config, tool):
    model_answers(
        scripted_llm, (step("searchAtlas", query="Lisbon") + "Thought: and then", "length"), final()
    )
    result = evaluate(tool, llm_config)
    assert result.errors == [] and result.model_calls == 2  # not asked again


def test_wrong_action(scripted_llm, llm_config, tool):
    model_answers(scripted_llm, step("getAtlasRecord", recordId="Lisbon"), final())
    result = evaluate(tool, llm_config)
    assert kinds(result) == {"wrong_action"}
    detail = next(e.detail for e in result.errors if e.kind == "wrong_action")
    assert (
        "getAtlasRecord, which the golden answer does not use" in detail
        and "never called searchAtlas" in detail
    )
    assert result.call_accuracy is False


def test_a_function_that_is_not_offered_is_a_wrong_action(scripted_llm, llm_config, tool):
    model_answers(scripted_llm, step("deleteAtlas", query="Lisbon"), final())
    result = evaluate(tool, llm_config)
    assert "deleteAtlas is not an offered function" in result.errors[0].detail


def test_a_call_where_none_is_needed_is_a_wrong_action(scripted_llm, llm_config, tool):
    rainy = case(("What is a good way to spend a rainy weekend in Lisbon?", []), kind="non_tool")
    model_answers(scripted_llm, step("searchAtlas", query="Lisbon"), final())
    result = evaluate(tool, llm_config, rainy)
    assert kinds(result) == {"wrong_action"} and result.call_accuracy is False
    model_answers(scripted_llm, final("Visit a museum."))
    assert evaluate(tool, llm_config, rainy).call_accuracy is True


def test_redundant_action(scripted_llm, llm_config, tool):
    model_answers(
        scripted_llm, step("searchAtlas", query="Lisbon"), step("searchAtlas", query="Lisbon"), final()
    )
    result = evaluate(tool, llm_config)
    assert kinds(result) == {"redundant_action"}
    assert "call_2 repeats searchAtlas" in result.errors[0].detail
    assert result.call_accuracy is False  # two calls where the golden answer has one


def test_input_error_values_and_missing_arguments(scripted_llm, llm_config, tool):
    both = case(("Find records about Lisbon, not Porto", [("searchAtlas", {"query": "Lisbon"})]))
    model_answers(scripted_llm, step("searchAtlas", query="Porto"), final())
    result = evaluate(tool, llm_config, both)
    assert kinds(result) == {"input_error"}
    assert "query='Porto', golden 'Lisbon'" in result.errors[0].detail
    model_answers(scripted_llm, step("searchAtlas"), final())
    result = evaluate(tool, llm_config, both)
    assert "input_error" in kinds(result)
    assert "missing required parameter 'query'" in result.errors[0].detail


def test_values_are_compared_after_normalisation(scripted_llm, llm_config, tool):
    model_answers(scripted_llm, step("searchAtlas", query="lisbon"), final())
    result = evaluate(tool, llm_config)
    assert result.errors == [] and result.call_accuracy is True


def test_a_number_the_golden_answer_writes_as_text_equals_the_number(scripted_llm, llm_config, tool):
    """ToolAlpaca's golden inputs often quote numbers (`"limit": "5"`): the model's 5 is the same value
    (`rules.same_value`, the comparison the procedure verdict makes too), so no input error."""
    quoted = case(("Find 5 records about Lisbon", [("searchAtlas", {"query": "Lisbon", "limit": "5"})]))
    model_answers(scripted_llm, step("searchAtlas", query="Lisbon", limit=5), final())
    assert "input_error" not in kinds(evaluate(tool, llm_config, quoted))
    model_answers(scripted_llm, step("searchAtlas", query="Lisbon", limit=6), final())
    result = evaluate(tool, llm_config, quoted)
    assert [e.detail for e in result.errors if e.kind == "input_error"] == [
        "searchAtlas: limit=6, golden '5'"
    ]


@pytest.mark.parametrize(
    ("made", "golden", "same"),
    [
        (5, "5", True),
        (2.0, 2, True),
        ("April 1, 2024", "april 1 2024", True),
        ({"city": "Lisbon", "n": 3}, {"n": "3", "city": "lisbon"}, True),
        (["a b", 1], ["AB", "1"], True),
        (True, 1, False),
        (True, "true", True),
        ({"city": "Lisbon"}, {"city": "Lisbon", "n": 3}, False),
        (["a"], ["a", "b"], False),
        ("Porto", "Lisbon", False),
    ],
)
def test_same_value(made, golden, same):
    assert same_value(made, golden) is same


def test_illusory_input(scripted_llm, llm_config, tool):
    """A golden value from an earlier result is not compared (the model's results differ), but the
    model's value must come from somewhere: `rec-99` is in no request and no result."""
    dependent = case(
        (
            "Find the record about Lisbon and show me its details",
            [("searchAtlas", {"query": "Lisbon"}), ("getAtlasRecord", {"recordId": "rec-77"})],
        ),
        kind="dependent",
    )
    model_answers(
        scripted_llm, step("searchAtlas", query="Lisbon"), step("getAtlasRecord", recordId="rec-99"), final()
    )
    result = evaluate(tool, llm_config, dependent)
    assert kinds(result) == {"illusory_input"}
    assert "getAtlasRecord(recordId='rec-99') appears in no user message" in result.errors[0].detail
    assert result.call_accuracy is None  # a golden value from a result: BFCL cannot score it


def test_wrong_answer(scripted_llm, llm_config, tool):
    model_answers(scripted_llm, step("searchAtlas", query="Lisbon"), "Thought: done\nFinal Answer: ")
    result = evaluate(tool, llm_config)
    assert kinds(result) == {"wrong_answer"}
    assert result.errors[0].detail == "an empty final answer to request 1"


def test_the_step_limit_ends_the_play_without_an_answer(scripted_llm, llm_config, tool):
    model_answers(scripted_llm, step("searchAtlas", query="Lisbon"))
    result = evaluate(tool, llm_config, max_steps=2)
    assert result.ending == "step_limit" and result.calls_made == 2
    assert {"redundant_action", "wrong_answer"} <= kinds(result)


def test_a_question_is_answered_by_the_simulated_user(scripted_llm, llm_config, tool):
    asked = case(
        (
            "Find records about a city for me",
            [("getDetails", {"Question": "Which city?"}), ("searchAtlas", {"query": "Lisbon"})],
        )
    )
    model_answers(
        scripted_llm, step(ASK_USER, Question="Which city?"), step("searchAtlas", query="Lisbon"), final()
    )
    result = evaluate(tool, llm_config, asked)
    assert [m.role for m in result.messages[:3]] == ["user", "assistant", "user"]
    assert (
        result.messages[2].clarification and result.messages[2].content == "Use Lisbon, and the record id 42."
    )
    assert result.errors == []
    assert result.call_accuracy is None  # a question to the user: not a BFCL case


def test_follow_ups_are_the_golden_dialogue_s_own(scripted_llm, llm_config, tool):
    two = case(
        ("Find records about Lisbon", [("searchAtlas", {"query": "Lisbon"})]),
        ("And about Porto?", [("searchAtlas", {"query": "Porto"})]),
        kind="multi_turn",
    )
    prompts = model_answers(
        scripted_llm,
        step("searchAtlas", query="Lisbon"),
        final(),
        step("searchAtlas", query="Porto"),
        final("Porto too."),
    )
    result = evaluate(tool, llm_config, two)
    assert [m.content for m in result.messages if m.role == "user"] == [
        "Find records about Lisbon",
        "And about Porto?",
    ]
    assert "Earlier in this conversation:\nFind records about Lisbon\nThought:" in prompts[2]
    assert result.errors == [] and result.final_answer == "Porto too."
    assert result.call_accuracy is None


def test_the_judge_s_verdicts_make_overall(scripted_llm, llm_config, tool):
    model_answers(
        scripted_llm, step("searchAtlas", query="Lisbon"), final(), judge={"process": "Yes", "response": "No"}
    )
    result = evaluate(tool, llm_config)
    assert (result.procedure, result.response, result.overall) == ("Yes", "No", False)
    judged = [r for r in scripted_llm.requests if responders.schema_name(r) == "TrajectoryJudgement"]
    shown = judged[0]["messages"][1]["content"]
    assert '## Standard Answer\nAction: searchAtlas\nAction Input: {"query": "Lisbon"}' in shown
    assert "## AI Assistant's Solution\nFind records about Lisbon for me\nThought:" in shown


def test_a_repeated_evaluation_asks_no_model(scripted_llm, llm_config, tool):
    model_answers(scripted_llm, step("searchAtlas", query="Lisbon"), final())
    first = evaluate(tool, llm_config, cache="shared")
    scripted_llm.requests.clear()
    again = evaluate(tool, llm_config, cache="shared")
    assert scripted_llm.calls == 0
    assert again.model_dump() == first.model_dump()


def test_scores_and_the_table(scripted_llm, llm_config, tool):
    model_answers(scripted_llm, step("searchAtlas", query="Lisbon"), final())
    good = evaluate(tool, llm_config)
    model_answers(scripted_llm, "no idea", judge={"process": "No", "response": "No"})
    bad = evaluate(tool, llm_config)
    scores = model_scores("scripted/under-test", [good, bad])
    assert (scores.cases, scores.overall, scores.call_accuracy, scores.call_cases) == (2, 0.5, 0.5, 2)
    assert (good.rule_procedure, bad.rule_procedure, scores.rule_procedure) == (True, False, 0.5)
    assert (
        scores.errors["parse_error"] == 1 and scores.errors["wrong_answer"] == 1 and scores.error_free == 0.5
    )
    table = scores_table([scores])
    assert (
        "| `scripted/under-test` | 2 | 50.0% | 50.0% | 50.0% | 50.0% | 50.0% (2) | 50.0% "
        "| 1 | 0 | 0 | 0 | 0 | 1 |" in table
    )


READS: list[tuple[str, Callable[[Any], bool]]] = [
    (
        'Thought: x\nAction: f\nAction Input: {"a": 1}',
        lambda t: (t.action, t.action_input) == ("f", {"a": 1}),
    ),
    ('Action: f\nAction Input: please use {"a": 1} here', lambda t: t.action_input == {"a": 1}),
    ("Action: `f`\nAction Input:", lambda t: (t.action, t.action_input) == ("f", {})),
    ("Thought: t\nFinal Answer: done\nmore", lambda t: (t.action, t.final_answer) == (FINISH, "done\nmore")),
    (
        'Action: f\nAction Input: {"a": 1}\nAction: g\nAction Input: {}',
        lambda t: t.action == PARALLEL and [c.function for c in t.calls] == ["f", "g"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), READS)
def test_read_step_is_lenient(text, expected):
    assert expected(read_step(text))


@pytest.mark.parametrize("text", ["", "Sure!", "Action: f\nAction Input: [1, 2]"])
def test_read_step_refuses_what_holds_no_step(text):
    with pytest.raises(UnparsedStep):
        read_step(text)
