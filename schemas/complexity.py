"""How complex a dialogue is (ToolACE's complexity control): a score from what can be counted in it,
and the band the score falls in.

The score adds up what makes a dialogue harder to get right: the functions offered to choose from
(on a log scale), the calls made, how deep calls depend on earlier results, the follow-up turns, the
arguments per call, and arguments that are objects or arrays. A single call of one of two functions
with one argument scores about 2.3 (easy); two parallel calls 3.3 and a two-call dependent chain 4.8
(medium); three turns of calls 6.3 (hard). `--complexity` steers the instructions towards a band
(`tasks/simulation.py`); the score of the dialogue made is what the record keeps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from schemas.dialog import Message, calls, user_turns
from schemas.dialog_shape import result_values, value_taken

Band = Literal["easy", "medium", "hard"]
BANDS: tuple[Band, ...] = ("easy", "medium", "hard")
MEDIUM_FROM, HARD_FROM = 3.0, 6.0
"""Scores from which a dialogue is medium, and hard."""


def dependency_depth(messages: Sequence[Message]) -> int:
    """The longest chain of calls in which each takes a value from the result of the one before (1
    for calls that take none; 0 without calls)."""
    depth: dict[str, int] = {}  # call id -> its depth
    deepest = 0
    for index, message in enumerate(messages):
        said = [m for m in messages[:index] if m.role == "user"]
        for call in message.tool_calls if message.role == "assistant" else []:
            arguments = call.parsed_arguments()
            sources = [
                depth.get(earlier.tool_call_id, 1)
                for earlier in messages[:index]
                if earlier.role == "tool"
                and value_taken(arguments, result_values([*said, earlier])) is not None
            ]
            depth[call.id] = 1 + max(sources, default=0)
            deepest = max(deepest, depth[call.id])
    return deepest


def _nested(value: object) -> int:
    return sum(isinstance(item, dict | list) for item in value.values()) if isinstance(value, dict) else 0


def complexity_score(messages: Sequence[Message], functions_offered: int) -> float:
    """The dialogue's complexity score (see the module's docstring), rounded to 2 decimals."""
    made = calls(messages)
    arguments = [call.parsed_arguments() for call in made]
    per_call = sum(len(a) for a in arguments if isinstance(a, dict)) / len(made) if made else 0.0
    score = (
        0.5 * math.log2(1 + functions_offered)
        + len(made)
        + 1.5 * max(0, dependency_depth(messages) - 1)
        + max(0, user_turns(messages) - 1)
        + 0.5 * per_call
        + sum(_nested(a) for a in arguments)
    )
    return round(score, 2)


def band(score: float) -> Band:
    """The band a score falls in."""
    return "hard" if score >= HARD_FROM else "medium" if score >= MEDIUM_FROM else "easy"
