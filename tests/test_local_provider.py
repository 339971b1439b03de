"""The embedded model's pool of contexts, without loading a model."""

from __future__ import annotations

import threading
import time

import pytest

from agents.llm import local_provider
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


class FakePool(ContextPool):
    """A pool whose contexts are plain objects: no model is loaded."""

    def _new(self) -> Context:
        return Context(llama=object(), formatter=None)


def test_a_conversation_goes_to_the_free_context_that_shares_the_most_with_it() -> None:
    pool = FakePool("fake", size=2, threads=1)
    tool_a = "system\n" + "the functions of tool A " * 10
    tool_b = "system\n" + "the functions of tool B " * 10
    first = pool.take(tool_a + "user\nrequest 1")
    second = pool.take(tool_b + "user\nrequest 1")  # first is busy: a second context
    assert first is not second and len(pool.contexts) == 2
    pool.give_back(first, tool_a + "user\nrequest 1")
    pool.give_back(second, tool_b + "user\nrequest 1")
    assert pool.take(tool_b + "user\nrequest 2") is second
    assert pool.take(tool_a + "user\nrequest 2") is first
    assert len(pool.contexts) == 2


def test_a_new_conversation_makes_a_context_while_the_pool_may_grow() -> None:
    pool = FakePool("fake", size=2, threads=1)
    first = pool.take("system\nabout one thing")
    pool.give_back(first, "system\nabout one thing")
    assert pool.take("user\nabout another") is not first
    assert len(pool.contexts) == 2


def test_a_call_waits_for_a_context_when_every_one_is_busy() -> None:
    pool = FakePool("fake", size=1, threads=1)
    held = pool.take("system\nfirst")
    got: list[Context] = []
    waiter = threading.Thread(target=lambda: got.append(pool.take("system\nsecond")))
    waiter.start()
    time.sleep(0.1)
    assert not got  # blocked while the only context is busy
    pool.give_back(held, "system\nfirst")
    waiter.join(timeout=5)
    assert got == [held]


def test_a_context_that_fails_to_load_leaves_the_pool_as_it_was() -> None:
    class Failing(ContextPool):
        def _new(self) -> Context:
            raise local_provider.LocalModelError("no such file")

    pool = Failing("fake", size=2, threads=1)
    with pytest.raises(local_provider.LocalModelError):
        pool.take("system\nanything")
    assert pool.contexts == []
