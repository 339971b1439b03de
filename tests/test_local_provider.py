"""The embedded model's pool of contexts, without loading a model."""

from __future__ import annotations

import threading
import time

import pytest

from agents.llm.local_provider import Context, ContextPool, contexts, conversation_text, shared_prefix


def test_shared_prefix_is_the_longest_common_prefix() -> None:
    assert shared_prefix("", "abc") == 0
    assert shared_prefix("abc", "abd") == 2
    assert shared_prefix("abc", "abc") == 3
    assert shared_prefix("abcdef", "abc") == 3
    assert shared_prefix("x" * 1000 + "a", "x" * 1000 + "b") == 1000


def test_conversations_of_different_roles_share_no_prefix() -> None:
    system = conversation_text([{"role": "system", "content": "You are the user."}])
    user = conversation_text([{"role": "user", "content": "You are the user."}])
    assert shared_prefix(system, user) == 0


@pytest.mark.parametrize(
    ("cores", "expected"), [(1, (1, 1)), (2, (2, 1)), (3, (3, 1)), (8, (4, 2)), (16, (4, 4))]
)
def test_contexts_and_threads_follow_the_cores(cores: int, expected: tuple[int, int]) -> None:
    assert contexts(cores) == expected


def fake_pool(size: int) -> ContextPool:
    """A pool of plain objects: no model is loaded."""
    return ContextPool([Context(llama=object(), formatter=None) for _ in range(size)])


def test_a_conversation_goes_to_the_free_context_that_shares_the_most_with_it() -> None:
    pool = fake_pool(2)
    tool_a = "system\n" + "the functions of tool A " * 10
    tool_b = "system\n" + "the functions of tool B " * 10
    first = pool.take(tool_a + "user\nrequest 1")
    second = pool.take(tool_b + "user\nrequest 1")  # the first is busy: the other one
    assert first is not second
    pool.give_back(first, tool_a + "user\nrequest 1")
    pool.give_back(second, tool_b + "user\nrequest 1")
    assert pool.take(tool_b + "user\nrequest 2") is second
    assert pool.take(tool_a + "user\nrequest 2") is first


def test_a_call_waits_for_a_context_when_every_one_is_busy() -> None:
    pool = fake_pool(1)
    held = pool.take("system\nfirst")
    got: list[Context] = []
    waiter = threading.Thread(target=lambda: got.append(pool.take("system\nsecond")))
    waiter.start()
    time.sleep(0.1)
    assert not got  # blocked while the only context is busy
    pool.give_back(held, "system\nfirst")
    waiter.join(timeout=5)
    assert got == [held]
