"""One checker: `schemas.call_accuracy.check_calls` and BFCL's own checker (bfcl-eval's `ast_checker`,
and for irrelevance BFCL's no-call rule, through `tasks/evaluation/bfcl_official.py`) give the same
verdict, case by case, on the mistakes a model makes."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.call_accuracy import Call, check_calls
from tasks.evaluation import bfcl_official
from tasks.evaluation.bfcl_set import BfclQuestion
from tests.support.packages import needs_bfcl

WEATHER = {
    "name": "weather.get",
    "description": "The weather of a city.",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string", "description": "The city."},
            "days": {"type": "integer", "description": "How many days."},
            "ratio": {"type": "float", "description": "A ratio."},
            "unit": {"type": "string", "description": "celsius or fahrenheit.", "default": "celsius"},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags."},
        },
        "required": ["city", "days"],
    },
}
TIME = {
    "name": "time_now",
    "description": "The time in a city.",
    "parameters": {
        "type": "dict",
        "properties": {"city": {"type": "string", "description": "The city."}},
        "required": ["city"],
    },
}
FUNCTIONS = [WEATHER, TIME]


def weather(city: str, days: int, **allowed: list[Any]) -> dict[str, dict[str, list[Any]]]:
    """A possible answer of `weather.get`: the optional parameters BFCL's way (`""`: may be left out)."""
    optional = {"ratio": [""], "unit": [""], "tags": [""]}
    return {"weather.get": {"city": [city], "days": [days], **optional, **allowed}}


PARIS = weather("Paris", 3, unit=["", "celsius"])
LONDON = weather("London", 1)
PARIS_TIME = {"time_now": {"city": ["Paris"]}}
NEEDS_UNIT = weather("Paris", 3, unit=["fahrenheit"])
RATIO = weather("Paris", 3, ratio=[0.5, 1.0])
TAGGED = weather("Paris", 3, tags=[["Rain", "wind"]])
LONDON_CALL: Call = ("weather.get", {"city": "London", "days": 1})
PARIS_TIME_CALL: Call = ("time_now", {"city": "Paris"})


def paris(**arguments: Any) -> Call:
    return ("weather.get", {"city": "Paris", "days": 3, **arguments})


CASES: list[tuple[str, str, list[Call], list[Any], bool]] = [
    # (case, BFCL category, the model's calls, the possible answer, the verdict)
    ("exact", "simple_python", [paris()], [PARIS], True),
    ("wrong type: a string for an integer", "simple_python", [paris(days="3")], [PARIS], False),
    ("wrong type: a float for an integer", "simple_python", [paris(days=3.0)], [PARIS], False),
    ("wrong type: a boolean for a string", "simple_python", [paris(city=True)], [PARIS], False),
    ("an integer for a float", "simple_python", [paris(ratio=1)], [RATIO], True),
    ("wrong type of an array item", "simple_python", [paris(tags=["rain", 3])], [TAGGED], False),
    ("missing required", "simple_python", [("weather.get", {"city": "Paris"})], [PARIS], False),
    ("extra parameter, undefined", "simple_python", [paris(country="FR")], [PARIS], False),
    ("extra parameter, not in the answer", "simple_python", [paris(ratio=0.5)], [PARIS], False),
    ("wrong value", "simple_python", [paris(city="Lyon")], [PARIS], False),
    ("wrong value of an optional one", "simple_python", [paris(unit="kelvin")], [PARIS], False),
    ("string normalisation: case and spaces", "simple_python", [paris(city=" paris ")], [PARIS], True),
    ("string normalisation: punctuation", "simple_python", [paris(city="Pa-ris.")], [PARIS], True),
    ("string normalisation in a list", "simple_python", [paris(tags=["rain", "Wind"])], [TAGGED], True),
    ("a list in another order", "simple_python", [paris(tags=["wind", "rain"])], [TAGGED], False),
    ("optional left out where allowed", "simple_python", [paris()], [PARIS], True),
    ("optional given its default", "simple_python", [paris(unit="celsius")], [PARIS], True),
    ("optional left out where not allowed", "simple_python", [paris()], [NEEDS_UNIT], False),
    ("two calls where one is asked", "simple_python", [paris(), paris()], [PARIS], False),
    ("no call where one is asked", "simple_python", [], [PARIS], False),
    ("wrong function", "multiple", [PARIS_TIME_CALL], [PARIS], False),
    ("the right one of several", "multiple", [paris()], [PARIS], True),
    ("parallel in order", "parallel", [paris(), LONDON_CALL], [PARIS, LONDON], True),
    ("parallel reversed", "parallel", [LONDON_CALL, paris()], [PARIS, LONDON], True),
    ("parallel, one missing", "parallel", [paris()], [PARIS, LONDON], False),
    ("parallel, one wrong", "parallel", [paris(), paris(days=1)], [PARIS, LONDON], False),
    (
        "parallel multiple reversed",
        "parallel_multiple",
        [("time_now", {"city": "paris"}), paris()],
        [PARIS, PARIS_TIME],
        True,
    ),
    ("parallel multiple, an extra", "parallel_multiple", [paris(), paris(), PARIS_TIME_CALL],
     [PARIS, PARIS_TIME], False),
    ("irrelevance: no call", "irrelevance", [], [], True),
    ("irrelevance: a call", "irrelevance", [paris()], [], False),
    ("irrelevance: an empty call", "irrelevance", [("time_now", {})], [], False),
]  # fmt: skip


@needs_bfcl
@pytest.mark.parametrize(("case", "category", "calls", "answer", "verdict"), CASES, ids=[c[0] for c in CASES])
def test_both_checkers_agree(
    case: str, category: str, calls: list[Call], answer: list[Any], verdict: bool
) -> None:
    question = BfclQuestion(id=case, category=category, question=[], functions=FUNCTIONS, ground_truth=answer)
    ours = check_calls(calls, answer, FUNCTIONS)
    bfcl = bfcl_official.check(question, calls, bfcl_official.checker_model(native=False))
    assert (ours.correct, bfcl.correct) == (verdict, verdict), (ours.problems, bfcl.problems)
