"""The verification layers on made-up dialogues: each rule fires on a bad one and passes a good one,
grounding's normalisations, and the judge's verdicts recorded (`flag`) or filtering (`filter`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.llm.gateway import LLMGateway
from schemas.dialog import Dialog, Message, ToolCall
from schemas.grounding import Sources, ungrounded
from schemas.verdict import JUDGE_CHECKS
from tasks import rules
from tasks.checks import check_dialogs, with_verdicts
from tasks.judge import JUDGE, judged
from tasks.simulation import SimulationSettings, simulate
from tests.support.scripts import call, finish, instruction, scripted, turns


@pytest.fixture
def good(scripted_llm, llm_config, tool) -> Dialog:
    """A single dialogue the rule layer accepts: a search for Lisbon, its answer, a final answer."""
    scripted(
        scripted_llm,
        AssistantTurn=turns(call("searchAtlas", query="Lisbon", limit=3), finish("Lisbon has 3 records.")),
    )
    simulated = simulate(tool, instruction("single"), LLMGateway(llm_config), SimulationSettings())
    checked = with_verdicts(simulated)
    assert checked.status == "accepted", checked.rejection_reason
    return simulated


def changed(dialog: Dialog, **fields: Any) -> Dialog:
    return dialog.model_copy(update=fields)


def with_call(dialog: Dialog, **arguments: Any) -> Dialog:
    """The dialogue with its one call's arguments replaced."""
    messages = [m.model_copy(deep=True) for m in dialog.messages]
    (made,) = messages[1].tool_calls
    made.arguments = json.dumps(arguments)
    return changed(dialog, messages=messages)


def test_a_good_dialogue_passes_every_rule_and_carries_a_verdict_of_each(good):
    checked = check_dialogs([good])
    (dialog,) = checked.accepted
    assert [(v.check, v.layer, v.passed) for v in dialog.verdicts] == [
        (name, "rules", True) for name, _ in rules.RULES
    ]
    assert all(rule(good) is None for _, rule in rules.RULES)


def test_bad_definition_fires_on_an_undescribed_function_an_untyped_parameter_and_unlisted_required(good):
    tools = json.loads(good.tools)
    tools[0]["function"]["description"] = ""
    tools[0]["function"]["parameters"]["properties"]["query"] = {"description": "what to search"}
    del tools[1]["function"]["parameters"]["required"]
    reason = rules.bad_definition(changed(good, tools=json.dumps(tools)))
    assert reason == (
        "function searchAtlas has no description; parameter query of searchAtlas has no type; "
        "function getAtlasRecord does not list its required parameters"
    )


@pytest.mark.parametrize(
    ("arguments", "name", "expected"),
    [
        (
            {"query": "Lisbon", "limit": "three"},
            "searchAtlas",
            "call_1 (searchAtlas): limit: 'three' is not of type 'integer'",
        ),
        ({"limit": 3}, "searchAtlas", "call_1 (searchAtlas): arguments: 'query' is a required property"),
        ({"query": "Lisbon"}, "deleteAtlas", "call_1 calls deleteAtlas, which is not offered"),
    ],
)
def test_not_executable_fires_on_wrong_types_missing_arguments_and_unknown_functions(
    good, arguments, name, expected
):
    messages = [m.model_copy(deep=True) for m in good.messages]
    messages[1].tool_calls = [ToolCall(id="call_1", name=name, arguments=json.dumps(arguments))]
    assert rules.not_executable(changed(good, messages=messages)) == expected


def test_ungrounded_argument_fires_on_an_invented_value_and_a_placeholder(good):
    assert rules.ungrounded_argument(with_call(good, query="Tokyo")) == (
        "searchAtlas(query='Tokyo') appears in no user message and no earlier result"
    )
    assert (
        rules.ungrounded_argument(with_call(good, query="<city>"))
        == "searchAtlas(query='<city>') is a placeholder"
    )
    assert rules.ungrounded_argument(with_call(good, query="lisbon", limit=7)) is None  # case; a small count


def test_unanswered_call_fires_on_a_missing_answer_a_reused_id_and_an_answer_to_nothing(good):
    request, calling, answer, final = good.messages
    assert (
        rules.unanswered_call(changed(good, messages=[request, calling, final])) == "call_1 was not answered"
    )
    stray = answer.model_copy(update={"tool_call_id": "call_9"})
    assert rules.unanswered_call(changed(good, messages=[request, calling, answer, stray, final])) == (
        "a tool answer to call_9, which no open call has"
    )
    again = [request, calling, answer, calling, answer, final]
    assert rules.unanswered_call(changed(good, messages=again)) == "call id call_1 is used twice"


def test_inconsistent_record_fires_on_counts_and_lists_its_messages_do_not_give(good):
    assert rules.inconsistent_record(changed(good, calls=4)) == "calls is 4, its messages give 1"
    assert rules.inconsistent_record(changed(good, final_answer="Something else.")) == (
        "final_answer is 'Something else.', its messages give 'Lisbon has 3 records.'"
    )
    assert rules.inconsistent_record(changed(good, tool_ids=["other"])) == (
        "tool atlas is not among the tools offered ['other']"
    )


def test_a_rejected_dialogue_names_the_first_rule_it_failed_and_keeps_every_verdict(good):
    bad = changed(with_call(good, query="<city>"), calls=2)
    (dialog,) = check_dialogs([bad]).rejected
    assert dialog.rejection_rule == "ungrounded_argument"
    failed = [v.check for v in dialog.verdicts if not v.passed]
    assert failed == ["ungrounded_argument", "inconsistent_record"]


def sources(*said: str, results: tuple[dict[str, Any], ...] = ()) -> Sources:
    messages = [Message(role="user", content=text) for text in said]
    messages += [
        Message(role="tool", content=json.dumps(body), tool_call_id="c", name="f") for body in results
    ]
    return Sources.before(messages)


@pytest.mark.parametrize(
    ("value", "said", "grounded"),
    [
        ("New York", "flights to new york, please", True),
        (1000, "a budget of 1,000 euros", True),
        ("2026-03-05", "on March 5th", True),
        ("2026-03-05", "tomorrow morning", True),
        ("2026-03-05", "some day", False),
        (250, "a budget of 1,000 euros", False),
        (3, "three results", True),  # a small count the assistant may choose
        ("ENUM_A", "nothing", True),  # the function's enum gives it
        ("YOUR_API_KEY", "my key", False),
    ],
)
def test_grounding_takes_normalised_values_and_refuses_invented_ones(value, said, grounded):
    assert (ungrounded(value, sources(said), allowed=["enum_a"]) is None) is grounded


def test_a_value_from_an_earlier_result_is_grounded():
    assert ungrounded("rec-77", sources("Find Lisbon", results=({"results": ["rec-77"]},))) is None


# -- the judge ---------------------------------------------------------------------------------------


def verdicts(failing: str | None = None) -> dict[str, Any]:
    return {
        check: {"passed": check != failing, "reason": f"{check}: {'no' if check != failing else 'yes'}"}
        for check in JUDGE_CHECKS
    }


@pytest.mark.parametrize("failing", JUDGE_CHECKS)
def test_each_judge_verdict_is_recorded_and_flag_keeps_while_filter_drops(
    scripted_llm, llm_config, good, failing
):
    accepted = check_dialogs([good]).accepted[0]
    scripted(scripted_llm, JudgeVerdicts=lambda request: verdicts(failing))
    gateway = LLMGateway(llm_config)
    flagged = judged(accepted, gateway, "flag")
    assert flagged.status == "accepted"
    judge = [(v.check, v.passed) for v in flagged.verdicts if v.layer == "judge"]
    assert judge == [(check, check != failing) for check in JUDGE_CHECKS]
    filtered = judged(accepted, gateway, "filter")
    assert (filtered.status, filtered.rejection_rule) == ("rejected", failing)
    assert filtered.rejection_reason == f"{failing}: yes"
    judge_requests = [
        r for r in scripted_llm.requests if "JudgeVerdicts" in json.dumps(r.get("response_format"))
    ]
    assert len(judge_requests) == 1  # one call per dialogue; the second answer came from the cache


def test_the_judge_sees_the_functions_and_the_whole_dialogue(scripted_llm, llm_config, good):
    scripted(scripted_llm, JudgeVerdicts=lambda request: verdicts())
    judged(good, LLMGateway(llm_config), "filter")
    (request,) = scripted_llm.requests
    text = "\n".join(m["content"] for m in request["messages"])
    assert "- searchAtlas:" in text and "Dialogue type: single" in text
    assert 'Assistant calls call_1: searchAtlas({"query": "Lisbon", "limit": 3})' in text
    assert "Result of call_1 (searchAtlas, status 200)" in text and "Assistant: Lisbon has 3 records." in text


def test_an_unusable_judge_answer_is_the_verdict_unjudged(scripted_llm, llm_config, good):
    scripted(scripted_llm, JudgeVerdicts=lambda request: {"unsolvable": "yes"})
    gateway = LLMGateway(llm_config)
    dialogs = [good, good.model_copy(update={"dialog_id": "atlas-2"})]
    batch = JUDGE.run(dialogs, lambda dialog: judged(dialog, gateway, "filter"))
    assert [d.rejection_rule for d in batch.outcomes] == ["unjudged", "unjudged"]
    kept = judged(good, LLMGateway(llm_config), "flag")
    assert (
        kept.status == good.status and kept.verdicts[-1].check == "unjudged" and not kept.verdicts[-1].passed
    )
