"""The rule procedure verdict (ToolAlpaca's written criteria as rules), clause by clause, on
trajectories written by hand in the shape of ToolAlpaca's evaluation cases: (a) every golden step
present, in any order, retries and questions to the user aside; (b) the values the instruction gives
equal; (c) the others free; (d) no call of an unrelated function."""

from __future__ import annotations

import json
from typing import Any

from schemas.dialog import Message, ToolCall, tool_message
from schemas.evaluation import EvalCase, GoldenStep, GoldenTurn
from schemas.react import react_turns
from schemas.simulation import ASK_USER
from tasks.evaluation.procedure import procedure_verdict


class Solution:
    """A model's trajectory, written step by step as ToolAlpaca's solutions read."""

    def __init__(self, request: str) -> None:
        self.messages = [Message(role="user", content=request)]

    def call(self, name: str, status: int = 200, **arguments: Any) -> Solution:
        call = ToolCall(id=f"call_{len(self.messages)}", name=name, arguments=json.dumps(arguments))
        body = {"results": [{"id": "20"}]} if status < 400 else {"error": "Bad request"}
        self.messages += [
            Message(role="assistant", thought=f"I call {name}.", tool_calls=[call]),
            tool_message(call, status, body),
        ]
        return self

    def ask(self, question: str, reply: str) -> Solution:
        self.messages += [
            Message(role="assistant", content=question, clarification=True),
            Message(role="user", content=reply, clarification=True),
        ]
        return self

    def answer(self, text: str = "Here is what I found.") -> Solution:
        self.messages.append(Message(role="assistant", content=text))
        return self

    def request(self, text: str) -> Solution:
        self.messages.append(Message(role="user", content=text))
        return self


def case(*turns: tuple[str, list[tuple[str, dict[str, Any]]]]) -> EvalCase:
    """A case as ToolAlpaca's evaluation files hold one: the instruction and its golden actions."""
    return EvalCase(
        case_id="anime-1",
        source="toolalpaca",
        tool_ids=["anime"],
        dialog_type="multi_turn" if len(turns) > 1 else "single",
        turns=[
            GoldenTurn(
                request=request,
                steps=[GoldenStep(action=a, action_input=json.dumps(i)) for a, i in steps],
            )
            for request, steps in turns
        ],
    )


EPISODES = case(
    (
        "Find the anime Naruto and list its episodes.",
        [("searchAnime", {"q": "Naruto", "limit": 3}), ("getAnimeEpisodes", {"id": "20"})],
    )
)


def test_a_every_golden_step_present_in_any_order_retries_and_questions_aside():
    retried = (
        Solution(EPISODES.turns[0].request)
        .call("searchAnime", 400, q="Naruto", limit="many")
        .ask("Do you mean the 2002 series?", "Yes, the 2002 one.")
        .call("searchAnime", q="Naruto")
        .call("getAnimeEpisodes", id="20")
        .answer()
    )
    assert procedure_verdict(EPISODES, react_turns(retried.messages)) == (True, "")
    # the golden answer's question to the user need not be asked
    asked = case(
        ("Find me an anime.", [(ASK_USER, {"Question": "Which one?"}), ("searchAnime", {"q": "Naruto"})])
    )
    direct = Solution("Find me an anime.").call("searchAnime", q="Naruto").answer()
    assert procedure_verdict(asked, react_turns(direct.messages)) == (True, "")
    # independent steps in another order than the golden one
    two = case(
        (
            "Search for Naruto and for Bleach.",
            [("searchAnime", {"q": "Naruto"}), ("searchAnime", {"q": "Bleach"})],
        )
    )
    swapped = Solution(two.turns[0].request).call("searchAnime", q="Bleach").call("searchAnime", q="Naruto")
    assert procedure_verdict(two, react_turns(swapped.messages)) == (True, "")
    # a golden step left out fails, and so does one made for the wrong request
    half = Solution(EPISODES.turns[0].request).call("searchAnime", q="Naruto").answer()
    assert procedure_verdict(EPISODES, react_turns(half.messages)) == (
        False,
        "request 1: no call of getAnimeEpisodes",
    )
    follow = case(
        ("Search for Naruto.", [("searchAnime", {"q": "Naruto"})]),
        ("And its episodes?", [("getAnimeEpisodes", {"id": "20"})]),
    )
    early = (
        Solution("Search for Naruto.")
        .call("searchAnime", q="Naruto")
        .call("getAnimeEpisodes", id="20")
        .answer()
        .request("And its episodes?")
        .answer()
    )
    assert procedure_verdict(follow, react_turns(early.messages)) == (
        False,
        "request 2: no call of getAnimeEpisodes",
    )


def test_b_the_values_the_instruction_gives_equal_the_golden_ones_after_normalisation():
    holidays = case(
        (
            "What are the public holidays in Germany in 2023?",
            [("getPublicHolidays", {"country": "Germany", "year": 2023})],
        )
    )
    request = holidays.turns[0].request
    normalised = Solution(request).call("getPublicHolidays", country=" germany", year="2023").answer()
    assert procedure_verdict(holidays, react_turns(normalised.messages)) == (True, "")
    wrong = Solution(request).call("getPublicHolidays", country="Germany", year=2022).answer()
    assert procedure_verdict(holidays, react_turns(wrong.messages)) == (
        False,
        "request 1: getPublicHolidays: year=2022, the request says 2023",
    )
    missing = Solution(request).call("getPublicHolidays", year=2023).answer()
    assert procedure_verdict(holidays, react_turns(missing.messages)) == (
        False,
        "request 1: getPublicHolidays leaves out country (the request says 'Germany')",
    )


def test_c_values_the_instruction_does_not_mention_may_differ():
    # `limit` (3) and the episode id (from the search's result) are in no words of the instruction
    chosen = (
        Solution(EPISODES.turns[0].request)
        .call("searchAnime", q="naruto", limit=10)
        .call("getAnimeEpisodes", id="21", page=2)
        .answer()
    )
    assert procedure_verdict(EPISODES, react_turns(chosen.messages)) == (True, "")
    left_out = Solution(EPISODES.turns[0].request).call("searchAnime", q="Naruto").call("getAnimeEpisodes")
    assert procedure_verdict(EPISODES, react_turns(left_out.messages)) == (True, "")
    # where the instruction names the number, it is determined
    three = case(("Find 3 anime about ninjas.", [("searchAnime", {"q": "ninjas", "limit": 3})]))
    ten = Solution("Find 3 anime about ninjas.").call("searchAnime", q="ninjas", limit=10).answer()
    assert procedure_verdict(three, react_turns(ten.messages)) == (
        False,
        "request 1: searchAnime: limit=10, the request says 3",
    )


def test_d_a_call_of_an_unrelated_function_fails_it():
    wandering = (
        Solution(EPISODES.turns[0].request)
        .call("searchAnime", q="Naruto")
        .call("getRandomQuote")
        .call("getAnimeEpisodes", id="20")
        .answer()
    )
    assert procedure_verdict(EPISODES, react_turns(wandering.messages)) == (
        False,
        "request 1: getRandomQuote is unrelated to the request (no golden step calls it)",
    )
    # another way tried after an error answer is a retry
    recovered = (
        Solution(EPISODES.turns[0].request)
        .call("searchAnime", 404, q="Naruto")
        .call("listAnime", q="Naruto")
        .call("searchAnime", q="Naruto")
        .call("getAnimeEpisodes", id="20")
        .answer()
    )
    assert procedure_verdict(EPISODES, react_turns(recovered.messages)) == (True, "")
    # a request no function serves: any call is unrelated, a question to the user is not a call
    chat = case(("Which anime would you recommend to a beginner?", []))
    called = Solution(chat.turns[0].request).call("searchAnime", q="beginner").answer()
    assert procedure_verdict(chat, react_turns(called.messages)) == (
        False,
        "request 1: searchAnime is unrelated to the request (no golden step calls it)",
    )
    asked = Solution(chat.turns[0].request).ask("Which genres do you like?", "Action.").answer("Naruto.")
    assert procedure_verdict(chat, react_turns(asked.messages)) == (True, "")
