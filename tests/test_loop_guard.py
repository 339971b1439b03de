"""The loop guard of the in-process providers: a generation that repeats itself is stopped."""

from __future__ import annotations

import pytest

from agents.llm.loop_guard import LOOP_PERIOD, LOOP_WINDOW, LoopGuard

PROMPT = list(range(1000, 1300))


def run_guard(guard: LoopGuard, generated: list[int]) -> int | None:
    """Feed `generated` one token at a time as llama-cpp-python does; the token count at which the
    guard stopped the generation (None: it never did)."""
    for count in range(1, len(generated) + 1):
        if guard(PROMPT + generated[:count]):
            return count
    return None


@pytest.mark.parametrize(
    "cycle", [[5], [7, 8], [11, 12, 13, 14, 15, 16, 17], list(range(40, 40 + LOOP_PERIOD))]
)
def test_a_generation_caught_in_a_loop_is_stopped_soon_after_the_loop_starts(cycle: list[int]) -> None:
    opening = list(range(2000, 2030))
    guard = LoopGuard()
    stopped = run_guard(guard, opening + cycle * 200)
    assert guard.period == len(cycle)
    assert stopped is not None and stopped <= len(opening) + LOOP_WINDOW + 2 * len(cycle) + 1
    assert guard(PROMPT) is True  # llama-cpp-python asks once more after the loop ends: still stopped


def test_a_generation_that_does_not_repeat_itself_runs_to_its_end() -> None:
    varied = [(i * 7919) % 5000 for i in range(1500)]
    guard = LoopGuard()
    assert run_guard(guard, varied) is None and guard.period is None


def test_a_cycle_longer_than_the_period_the_guard_looks_for_is_let_through() -> None:
    guard = LoopGuard()
    assert run_guard(guard, list(range(50, 50 + LOOP_PERIOD + 1)) * 20) is None


def test_the_prompt_alone_never_stops_a_generation() -> None:
    guard = LoopGuard()
    looping_prompt = [9] * 500
    assert not any(guard(looping_prompt + [1, 2, 3][:n]) for n in range(1, 4))


def test_the_reason_names_the_window_and_the_period() -> None:
    guard = LoopGuard()
    assert guard.reason() == ""
    run_guard(guard, [3, 4] * 100)
    assert guard.reason() == f"caught in a loop (its last {LOOP_WINDOW} tokens repeat every 2)"
