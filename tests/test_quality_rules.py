"""The model-free quality rules (`tasks/quality_rules.py`) on the degenerate dialogues of issue 31's
first embedded run, rebuilt by hand, each rejected by its rule; and on a sound dialogue, which passes
every one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flows.cli import parse_config
from schemas.complexity import band, complexity_score, dependency_depth
from schemas.dialog import Dialog, DialogType, Message, ToolCall, tool_message
from tasks import quality_rules as quality
from tasks.checks import check_dialogs
from tasks.quality_rules import QualitySettings
from tasks.rules import RULES, rules_for
from tests.support.records import accepted_dialog

NEW_RULES = ("content_free_request", "degenerate_repetition", "echo", "ignored_tool_results")
DEFAULTS = QualitySettings()
TIMESTAMPS = "2018-01-01T21:52:32.33.13.15.00.00.00-" * 60


def function(name: str, description: str, required: list[str], **properties: str) -> dict[str, Any]:
    """An OpenAI tool of string parameters, each described."""
    schema = {key: {"type": "string", "description": text} for key, text in properties.items()}
    parameters = {"type": "object", "properties": schema, "required": required}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


SEARCH = function("searchRecords", "Searches the records that match a query.", [], query="Text to search for")
SEARCH_BY_QUERY = function(
    "searchRecords", "Searches the records that match a query.", ["query"], query="Text to search for"
)
BACKUP = function("getBackup", "The last backup of a server.", ["server"], server="The server's name")


def called(number: int, name: str, result: dict[str, Any], **arguments: Any) -> list[Message]:
    """An assistant message calling `name` and the tool's answer `result`."""
    call = ToolCall(id=f"call_{number}", name=name, arguments=json.dumps(arguments))
    thought = f"I call {name}."
    return [Message(role="assistant", thought=thought, tool_calls=[call]), tool_message(call, 200, result)]


def simulated(messages: list[Message], tools: list[dict[str, Any]], kind: DialogType = "single") -> Dialog:
    """A simulated dialogue of `messages` (its counts taken from them), for the rule layer."""
    dialog = accepted_dialog(f"records-{kind}", "records", messages, tools, kind)
    score = complexity_score(messages, len(tools))
    derived = {"functions_offered": len(tools), "dependency_depth": dependency_depth(messages)}
    return dialog.model_copy(
        update={**derived, "complexity": score, "complexity_band": band(score), "status": "simulated"}
    )


def user(text: str, reply: bool = False) -> Message:
    return Message(role="user", content=text, clarification=reply)


def assistant(text: str, question: bool = False) -> Message:
    return Message(role="assistant", content=text, clarification=question)


def failed(dialog: Dialog) -> dict[str, str]:
    """The rules of the rule layer the dialogue fails, with their reasons."""
    return {name: reason for name, rule in RULES if (reason := rule(dialog))}


def rejected_by(dialog: Dialog) -> tuple[str | None, str]:
    (checked,) = check_dialogs([dialog]).rejected
    return checked.rejection_rule, checked.rejection_reason


@pytest.fixture
def sound() -> Dialog:
    """A sound dialogue: a request naming what to search, a call, a clarifying question answered, and a
    final answer telling what the results held, of more than 50 words."""
    result = {"results": [{"id": "rec-77", "title": "Lisbon Oceanarium", "visitors": 1300000}], "count": 1}
    answer = (
        "I found one record about Lisbon's aquarium. Record rec-77 is the Lisbon Oceanarium, which had "
        "about 1,300,000 visitors in the year it reports. If you want, I can look up its opening hours, "
        "the price of a ticket for a family of four, or other places near the river that are worth a "
        "visit on a rainy afternoon in the city."
    )
    return simulated(
        [
            user("Find records about the aquarium in Lisbon"),
            assistant("Do you mean the Lisbon Oceanarium or another aquarium?", question=True),
            user("The Oceanarium, please.", reply=True),
            *called(1, "searchRecords", result, query="Oceanarium"),
            assistant(answer),
        ],
        [SEARCH_BY_QUERY],
    )


def test_a_sound_dialogue_passes_every_new_rule(sound):
    assert len(quality.words(sound.final_answer)) > DEFAULTS.repetition_min_words
    assert failed(sound) == {}
    assert check_dialogs([sound]).accepted
    assert [name for name, _ in RULES][-len(NEW_RULES) :] == list(NEW_RULES)


def test_the_cat_that_is_a_cat_is_an_echo_whose_answer_ignores_the_search_it_made():
    """Request "The cat is a cat with a tail." -> searchRecords({}) -> "What is the cat's name?" -> the
    user repeats the request -> the final answer repeats it too."""
    cat = "The cat is a cat with a tail."
    result = {"records": [{"id": "rec-17", "name": "Whiskers", "breed": "tabby"}], "count": 1}
    dialog = simulated(
        [
            user(cat),
            *called(1, "searchRecords", result),
            assistant("What is the cat's name?", question=True),
            user(cat, reply=True),
            assistant(cat),
        ],
        [SEARCH],
    )
    reasons = failed(dialog)
    assert reasons == {
        "echo": f"the user's reply {cat!r} repeats 100% of the user's request {cat!r} (an echo from 80%)",
        "ignored_tool_results": (
            f"the final answer {cat!r} names no value or field of the 1 result(s) it had (searchRecords)"
        ),
    }
    assert rejected_by(dialog) == ("echo", reasons["echo"])


def test_timestamps_repeated_to_the_token_limit_are_degenerate_repetition():
    """A multi-turn dialogue whose assistant, user and assistant messages are each a timestamp run
    repeated to the token limit."""
    result = {"server": "db-1", "last_backup": "2018-01-01T21:52:32Z"}
    dialog = simulated(
        [
            user("When was the last backup of server db-1?"),
            *called(1, "getBackup", result, server="db-1"),
            assistant(TIMESTAMPS),
            user(TIMESTAMPS),
            assistant(TIMESTAMPS),
            user(TIMESTAMPS),
            assistant(TIMESTAMPS),
        ],
        [BACKUP],
        kind="multi_turn",
    )
    rule, reason = rejected_by(dialog)
    assert rule == "degenerate_repetition"
    assert reason.startswith("message 4, the assistant's answer '2018-01-01T21:52:32.33.13.15.00.00.00-2018")
    assert reason.endswith("of its characters in its most frequent 2-gram (at most 20%)")
    assert quality.top_ngram_chars(quality.words(TIMESTAMPS), 2) > 0.2
    assert "echo" in failed(dialog)  # each follow-up's answer repeats it too, after the first rule


def test_a_request_of_the_functions_name_alone_is_content_free():
    """Request "Search Records," answered "finally, return the matching records from the search records."."""
    dialog = simulated(
        [
            user("Search Records,"),
            *called(1, "searchRecords", {"results": [], "count": 0}, query="Records"),
            assistant("finally, return the matching records from the search records."),
        ],
        [SEARCH_BY_QUERY],
    )
    assert rejected_by(dialog) == (
        "content_free_request",
        "the request 'Search Records,' names nothing the functions (searchRecords) could act on: each of "
        "its words is a function's name or a common word",
    )
    assert list(failed(dialog)) == ["content_free_request"]  # an empty result leaves nothing to ignore


def test_a_request_with_something_to_act_on_or_for_functions_needing_nothing_is_not_content_free():
    def request(text: str, tools: list[dict[str, Any]]) -> str | None:
        dialog = simulated([user(text), assistant("Nothing matched.")], tools)
        return quality.content_free_request(dialog, DEFAULTS)

    assert request("Please search the records for me", [SEARCH_BY_QUERY]) is not None
    assert request("Please search the records about Porto", [SEARCH_BY_QUERY]) is None
    assert request("Search records 42", [SEARCH_BY_QUERY]) is None  # a number is a value
    assert request("Search Records,", [SEARCH]) is None  # searchRecords() needs no argument
    assert request("?!", [SEARCH]) == "the request '?!' has no word"


def test_a_non_tool_request_that_only_names_a_function_is_content_free():
    """`make run`'s embedded model wrote "Search Records," as a request to answer without the tool
    (searchRecords needs no argument): it names a function and nothing else. Small talk, which names
    no function, is what a non-tool request may be."""

    def request(text: str) -> str | None:
        dialog = simulated([user(text), assistant("Here are the matching records.")], [SEARCH], "non_tool")
        return quality.content_free_request(dialog, DEFAULTS)

    assert request("Search Records,") is not None
    assert request("How are you?") is None
    assert request("What is a record label?") is None


def test_a_dog_answered_with_its_own_description_is_an_echo():
    """A request and an answer that repeats it."""
    dog = (
        "The dog is a 100-year-old dog named Max who is a 100-year-old dog who loves to play with the "
        "little dogs."
    )
    dialog = simulated([user(dog), assistant(f"{dog} He loves dogs.")], [SEARCH], kind="non_tool")
    rule, reason = rejected_by(dialog)
    assert rule == "echo"
    assert reason.startswith("the assistant's answer 'The dog is a 100-year-old dog")
    assert "repeats 94% of the user's request 'The dog is a 100-year-old dog named" in reason
    assert quality.repetition(dog, DEFAULTS) is None  # 22 words: too short to measure


def test_an_answer_that_ignores_every_result_fails_and_one_naming_a_value_or_field_passes(sound):
    result = {"results": [{"id": "rec-77", "title": "Lisbon Oceanarium"}], "count": 1}

    def answered(text: str, status: int = 200) -> Dialog:
        call = ToolCall(id="call_1", name="searchRecords", arguments=json.dumps({"query": "Oceanarium"}))
        calling = Message(role="assistant", thought="I search.", tool_calls=[call])
        messages = [user("Find the Oceanarium"), calling, tool_message(call, status, result), assistant(text)]
        return simulated(messages, [SEARCH_BY_QUERY])

    ignoring = answered("I have finished the task you gave me.")
    assert rejected_by(ignoring) == (
        "ignored_tool_results",
        "the final answer 'I have finished the task you gave me.' names no value or field of the 1 "
        "result(s) it had (searchRecords)",
    )
    assert quality.ignored_tool_results(answered("Its title is not given."), DEFAULTS) is None  # a field
    assert quality.ignored_tool_results(answered("It is rec-77."), DEFAULTS) is None  # a value
    assert quality.ignored_tool_results(answered("The search failed.", status=404), DEFAULTS) is None


def test_the_thresholds_are_options_that_reach_the_rules():
    config = parse_config(
        ["--seeds", "apis.md", "--echo-threshold", "0.95", "--repetition-min-words", "1000"]
    )
    assert config.verification.quality == QualitySettings(echo_threshold=0.95, repetition_min_words=1000)
    near = "Find the weather in Lisbon for tomorrow morning please"
    dialog = simulated([user(near), assistant(near.replace("morning", "evening"))], [SEARCH], "non_tool")
    by_name = {name: rule for name, rule in rules_for(config.verification.quality)}
    assert quality.similarity(near, dialog.final_answer) == pytest.approx(8 / 9)
    assert dict(RULES)["echo"](dialog) is not None and by_name["echo"](dialog) is None
    long = simulated([user("Back up db-1"), assistant(TIMESTAMPS)], [SEARCH], "non_tool")
    assert dict(RULES)["degenerate_repetition"](long) is not None
    assert by_name["degenerate_repetition"](long) is None  # 660 words: too short for 1000


NATURAL = (
    "Lisbon is the capital of Portugal and its largest city. It lies on the Tagus estuary, where the river "
    "meets the Atlantic. The old quarters climb seven hills; trams and funiculars connect them with the "
    "riverside squares. Its museums hold tiles, coaches and modern art, and the Oceanarium is among the "
    "largest aquariums in Europe. Summers are warm and dry, winters mild and rainy."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("line one is here\n" * 20, "95% of its characters in repeated lines (at most 20%)"),
        ("a b c d e f " * 10, "33% of its characters in its most frequent 2-gram (at most 20%)"),
        (NATURAL, None),
        (" ".join(NATURAL.split()[:30]) + " again" * 19, None),  # 49 words: not measured
    ],
)
def test_the_repetition_measures_name_the_first_over_its_threshold(text: str, expected: str | None):
    assert quality.repetition(text, DEFAULTS) == expected
