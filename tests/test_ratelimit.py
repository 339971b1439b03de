"""Adaptive concurrency, token buckets and Retry-After pauses (`agents.llm.ratelimit`), on a fake clock,
and through the gateway against the fake server's limits (loopback only)."""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import litellm
import pytest

from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway
from agents.llm.ratelimit import (
    EVERY_MODEL,
    HEADROOM,
    RATE_MARGIN,
    ModelLimits,
    TokenBucket,
    fitting,
    retry_after_seconds,
)
from agents.llm.slots import PrioritySlots
from bench.fake_llm_server import FakeLLMServer
from flows.execution import llm_for_tasks
from tests.support.fake_llm import ScriptedLLM

MESSAGES = [{"role": "user", "content": "Say something."}]


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


def limits(clock: FakeClock, **options) -> ModelLimits:
    return ModelLimits(clock=clock, sleep=clock.sleep, **{"ceiling": 8, **options})


def test_a_refusal_shrinks_the_limit_once_per_burst_and_successes_grow_it_back() -> None:
    clock = FakeClock()
    model_limits = limits(clock)
    with model_limits.admit("m", 0, 10) as first, model_limits.admit("m", 0, 10) as second:
        pass
    model_limits.throttled(first, None)
    model_limits.throttled(second, None)  # began before the decrease: the same burst
    assert model_limits.limit("m").limit == 6  # 8 * 0.75

    with model_limits.admit("m", 0, 10) as third:
        pass
    model_limits.throttled(third, None)
    assert model_limits.limit("m").limit == 4  # floor(6 * 0.75)

    for _ in range(4 + 5 + 6 + 7):  # as many successes as the limit, for each step up
        with model_limits.admit("m", 0, 10) as admission:
            pass
        model_limits.succeeded(admission, 3, {}, 0.0)
    assert model_limits.limit("m").limit == 8
    for _ in range(20):
        with model_limits.admit("m", 0, 10) as admission:
            pass
        model_limits.succeeded(admission, 3, {}, 0.0)
    assert model_limits.limit("m").limit == 8  # never above the ceiling

    history = [(change.model, change.limit, change.ceiling) for change in model_limits.history()]
    assert history == [("m", 6, 8), ("m", 4, 8), ("m", 5, 8), ("m", 6, 8), ("m", 7, 8), ("m", 8, 8)]
    assert model_limits.current() == {"m": 8}
    assert model_limits.limit("other").limit == 8 and "other" not in model_limits.current()


def test_the_limit_never_goes_below_one_and_a_fixed_limit_never_moves() -> None:
    clock = FakeClock()
    model_limits = limits(clock, ceiling=2)
    for _ in range(5):
        with model_limits.admit("m", 0, 0) as admission:
            pass
        model_limits.throttled(admission, None)
    assert model_limits.limit("m").limit == 1

    fixed = limits(clock, ceiling=2, adaptive=False)
    with fixed.admit("m", 0, 0) as admission:
        pass
    fixed.throttled(admission, None)
    assert fixed.limit("m").limit == 2 and fixed.history() == []


def answered(model_limits: ModelLimits, clock: FakeClock, latency_s: float, model: str = "m") -> None:
    """One call to `model` answered after `latency_s` on the fake clock."""
    with model_limits.admit(model, 0, 0) as admission:
        pass
    clock.now += latency_s
    model_limits.succeeded(admission, 1, {}, latency_s)


def test_what_fits_within_the_timeouts_headroom_follows_littles_law() -> None:
    assert fitting(1000.0, 8, None) == math.inf  # no timeout: no bound
    assert fitting(2.0, 8, 3.0) == pytest.approx(8 * HEADROOM * 3.0 / 2.0)  # 10.8: room for 9 and 10
    assert fitting(2.5, 8, 3.0) < 9  # 2.81 s at 9 in flight: past 0.9 of 3 s
    assert fitting(HEADROOM * 3.0, 1, 3.0) == pytest.approx(1)  # one call alone at the headroom


def test_a_slow_success_holds_the_limit_and_starts_the_run_of_successes_again() -> None:
    clock = FakeClock()
    model_limits = limits(clock, timeout_s=3.0)
    with model_limits.admit("m", 0, 0) as refused:
        pass
    model_limits.throttled(refused, None)
    assert model_limits.limit("m").limit == 6
    for _ in range(12):  # 2.5 s at 6 in flight: 2.92 s at 7, past 2.7 s
        answered(model_limits, clock, 2.5)
    assert model_limits.limit("m").limit == 6  # held, not shrunk
    for latency in (1.0,) * 5 + (2.5,) + (1.0,) * 5:  # a slow one among six fast: not six in a row
        answered(model_limits, clock, latency)
    assert model_limits.limit("m").limit == 6
    answered(model_limits, clock, 1.0)
    assert model_limits.limit("m").limit == 7
    assert [change.limit for change in model_limits.history()] == [6, 7]

    untimed = limits(clock)  # no timeout given: latency never holds the limit
    with untimed.admit("m", 0, 0) as refused:
        pass
    untimed.throttled(refused, None)
    for _ in range(6):
        answered(untimed, clock, 100.0)
    assert untimed.limit("m").limit == 7


@pytest.mark.parametrize(
    ("slow_start", "timed_out", "changes"),
    [(False, [0, 1], [36, 27]), (True, [], [1, 2, 4, 8, 15, 21, 25, 27])],
)
def test_against_a_saturating_server_the_limit_settles_below_the_timeout(
    slow_start: bool, timed_out: list[int], changes: list[int]
) -> None:
    """Rounds of as many calls as the limit against a server whose latency is 1 s x (1 + others in
    flight / 16), with a 3 s timeout counted as a refusal. From the ceiling, two decreases bring the
    limit under the timeout; from a slow start, growth by what the latency leaves room for (at most
    double) reaches the same limit without a timeout. The limit then stays where one more call
    would pass 0.9 of the timeout (27: 2.72 s), where plain AIMD would climb to 34 and time out."""
    clock = FakeClock()
    model_limits = limits(clock, ceiling=48, timeout_s=3.0, slow_start=slow_start)
    timeouts = []
    for round_ in range(60):
        in_flight = model_limits.limit("m").limit
        latency = 1.0 * (1 + (in_flight - 1) / 16)
        admissions = []
        for _ in range(in_flight):
            with model_limits.admit("m", 0, 0) as admission:
                admissions.append(admission)
        answered_in = min(latency, 3.0)
        clock.now += answered_in
        for admission in admissions:
            if latency > 3.0:
                model_limits.throttled(admission, None, timed_out=True)
            else:
                model_limits.succeeded(admission, 1, {}, answered_in)
        if latency > 3.0:
            timeouts.append(round_)
    assert timeouts == timed_out
    assert [change.limit for change in model_limits.history()] == changes
    assert model_limits.limit("m").limit == 27


def test_after_a_timeout_the_limit_grows_back_as_far_as_latency_leaves_room() -> None:
    clock = FakeClock()
    model_limits = limits(clock, ceiling=64, timeout_s=3.0)
    for _ in range(4):
        with model_limits.admit("m", 0, 0) as admission:
            pass
        model_limits.throttled(admission, None, timed_out=True)
    assert model_limits.limit("m").limit == 20  # 64, 48, 36, 27, 20
    for latency in (1.0,) * 19 + (2.0,):  # the slowest: 2 s at 20, so 27 in flight would take 2.7 s
        answered(model_limits, clock, latency)
    assert model_limits.limit("m").limit == 27
    for _ in range(27):  # 2.5 s at 27: room for 29.16
        answered(model_limits, clock, 2.5)
    assert model_limits.limit("m").limit == 29
    for _ in range(29):  # 1 s at 29: room for 78, but at most double (58)
        answered(model_limits, clock, 1.0)
    assert model_limits.limit("m").limit == 58

    with model_limits.admit("m", 0, 0) as admission:
        pass
    model_limits.throttled(admission, None)  # a 429: growth is one per run again
    for _ in range(43):
        answered(model_limits, clock, 1.0)
    assert [change.limit for change in model_limits.history()] == [48, 36, 27, 20, 27, 29, 58, 43, 44]


def test_a_slow_start_begins_at_one_call_and_is_in_the_history() -> None:
    clock = FakeClock()
    model_limits = limits(clock, slow_start=True)
    assert model_limits.limit("m").limit == 1
    assert [(change.model, change.limit) for change in model_limits.history()] == [("m", 1)]
    answered(model_limits, clock, 1.0)  # no timeout: the room is unbounded, the doubling is not
    assert model_limits.limit("m").limit == 2
    assert limits(clock, slow_start=True, adaptive=False).limit("m").limit == 8  # fixed: the ceiling


def test_retry_after_pauses_every_call_to_the_model_not_others() -> None:
    clock = FakeClock()
    model_limits = limits(clock)
    with model_limits.admit("m", 0, 0) as refused:
        pass
    model_limits.throttled(refused, 5.0)

    with model_limits.admit("other", 0, 0):
        assert clock.slept == []  # another model is not paused
    with model_limits.admit("m", 0, 0):
        assert clock.slept == [5.0] and clock.now == 5.0  # a new call waits the pause out
    with model_limits.admit("m", 0, 0):
        assert clock.slept == [5.0]  # over: no more waiting
    model_limits.pause("m", 2.0)
    model_limits.pause("m", 1.0)  # a shorter pause does not cut a longer one
    model_limits.wait_pause("m")
    assert clock.now == 7.0


def test_a_shrunk_limit_holds_calls_back_until_holders_leave() -> None:
    slots = PrioritySlots(2)
    slots.acquire()
    slots.acquire()
    slots.resize(1)
    admitted = threading.Event()

    def third() -> None:
        slots.acquire()
        admitted.set()

    waiter = threading.Thread(target=third)
    waiter.start()
    slots.release()  # one left: still the full count of 1
    assert not admitted.wait(0.2)
    slots.resize(2)  # room again: the waiter gets it at once
    assert admitted.wait(5)
    waiter.join()
    assert slots.in_use == 2
    with pytest.raises(ValueError):
        slots.resize(0)


def test_token_bucket_lets_a_minutes_rate_through_and_no_more() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, clock=clock, sleep=clock.sleep)  # 10 a second, 10 at once
    for _ in range(10):
        bucket.take()
    assert clock.now == 0.0  # the burst
    for _ in range(600):
        bucket.take()
    assert clock.now == pytest.approx(60.0)  # then exactly the rate
    bucket.settle(-1000)  # a refund never fills it above its burst
    start = clock.now
    for _ in range(20):
        bucket.take()
    assert clock.now - start == pytest.approx(1.0)


def test_token_bucket_is_shared_by_threads() -> None:
    bucket = TokenBucket(6000)  # 100 a second, a burst of 100
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: bucket.take(), range(150)))
    assert time.monotonic() - started >= 0.4  # 50 beyond the burst need half a second


def test_limits_apply_per_model_share_and_margin() -> None:
    clock = FakeClock()
    model_limits = limits(clock, rpm={"a": 120, EVERY_MODEL: 60}, tpm={"a": 6000}, share=2)
    a, b = model_limits.bucket("a", "requests"), model_limits.bucket("b", "requests")
    assert a is not None and a.per_minute == pytest.approx(120 * RATE_MARGIN / 2)
    assert b is not None and b.per_minute == pytest.approx(60 * RATE_MARGIN / 2)
    assert model_limits.bucket("b", "tokens") is None
    tokens = model_limits.bucket("a", "tokens")
    assert tokens is not None
    with model_limits.admit("a", 0, 400) as admission:  # 100 tokens reserved
        pass
    assert admission.tokens == 100
    model_limits.succeeded(admission, 2000, {}, 0.0)  # it used 2000: the bucket owes the rest
    assert tokens.level < 0


def test_limits_are_learned_from_headers_unless_given() -> None:
    clock = FakeClock()
    model_limits = limits(clock, rpm={"given": 100})
    headers = {"x-ratelimit-limit-requests": "600", "x-ratelimit-limit-tokens": "90000"}
    with model_limits.admit("m", 0, 0) as admission:
        pass
    model_limits.succeeded(admission, 1, headers, 0.0)
    learned = model_limits.bucket("m", "requests")
    assert learned is not None and learned.per_minute == pytest.approx(600 * RATE_MARGIN)
    tokens = model_limits.bucket("m", "tokens")
    assert tokens is not None and tokens.per_minute == pytest.approx(90000 * RATE_MARGIN)
    model_limits.learn("m", {"x-ratelimit-limit-requests": "300"})  # a change is followed
    assert learned.per_minute == pytest.approx(300 * RATE_MARGIN)
    model_limits.learn("given", headers)
    given = model_limits.bucket("given", "requests")
    assert given is not None and given.per_minute == pytest.approx(100 * RATE_MARGIN)
    model_limits.learn("m", {"x-ratelimit-limit-requests": "many"})
    assert learned.per_minute == pytest.approx(300 * RATE_MARGIN)


def test_retry_after_is_read_from_either_header() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500", "Retry-After": "2"}) == 1.5
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_rates_must_be_positive_and_are_divided_across_workers() -> None:
    with pytest.raises(ValueError, match="at least 1 per minute"):
        LLMConfig(rpm={"m": 0})
    config = LLMConfig(concurrency=8, rpm={EVERY_MODEL: 600})
    shared = llm_for_tasks(config, 4)
    assert (shared.concurrency, shared.limit_share, shared.rpm) == (2, 4, {EVERY_MODEL: 600})
    assert llm_for_tasks(config, 1).limit_share == 1


# -- through the gateway ----------------------------------------------------------------------------


def test_gateway_shrinks_on_429_and_honours_retry_after_without_spending_attempts(
    scripted_llm: ScriptedLLM, llm_config: LLMConfig
) -> None:
    refusals = iter([True, True, True, True])  # more refusals than max_attempts (3)

    def script(request):
        if next(refusals, False):
            response = litellm.RateLimitError("slow down", "scripted", "test")
            response.litellm_response_headers = {"retry-after-ms": "10"}
            raise response
        return "fine"

    scripted_llm.script = script
    gateway = LLMGateway(llm_config)
    answer = gateway.complete(stage="s", role="user", messages=MESSAGES, template="t@1")
    assert answer.content == "fine"
    assert scripted_llm.calls == 5
    assert gateway.limits.limit("scripted/test").limit < llm_config.concurrency
    assert gateway.concurrency_note().startswith(" · concurrency ")
    assert gateway.ledger.summary().errors == 4


def test_gateway_gives_its_limits_the_clients_timeout(llm_config: LLMConfig) -> None:
    gateway = LLMGateway(llm_config.model_copy(update={"timeout_s": 7.5}))
    assert gateway.limits.timeout_s == 7.5
    assert gateway.limits.limit("any/model").timeout_s == 7.5


def test_gateway_counts_timeouts_only_when_asked(scripted_llm: ScriptedLLM, llm_config: LLMConfig) -> None:
    def script(request):
        raise litellm.Timeout("late", "scripted", "test")

    for throttle, expected in ((False, 8), (True, 1)):  # with timeouts counted: a slow start from 1
        scripted_llm.script = script
        gateway = LLMGateway(
            llm_config.model_copy(update={"concurrency": 8, "throttle_on_timeout": throttle})
        )
        with pytest.raises(Exception, match="Timeout"):
            gateway.complete(stage="s", role="user", messages=MESSAGES, template="t@1", schema=None)
        assert gateway.limits.limit("scripted/test").limit == expected


def gateway_for_server(server: FakeLLMServer, tmp_path) -> LLMGateway:
    return LLMGateway(
        LLMConfig(
            model="openai/fake-model",
            api_base=server.base_url,
            cache_dir=str(tmp_path),
            use_cache=False,
            concurrency=16,
            backoff_base_s=0.01,
            backoff_max_s=0.05,
        )
    )


def test_gateway_against_a_limited_server_finishes_every_call(tmp_path) -> None:
    with FakeLLMServer(rpm=40, limit_window_s=2.0) as server:  # 40 per 2 s, so the test is short
        gateway = gateway_for_server(server, tmp_path)
        with ThreadPoolExecutor(16) as pool:
            answers = list(
                pool.map(
                    lambda i: (
                        gateway.complete(
                            stage="s",
                            role="user",
                            messages=[{"role": "user", "content": f"question {i}"}],
                            template="t@1",
                        ).content
                    ),
                    range(60),
                )
            )
        stats = server.stats()
    assert len(answers) == 60 and all(answers)
    assert stats["completions"] == 60 and stats["limited"] > 0
    assert gateway.limits.limit("openai/fake-model").limit < 16
    assert gateway.limits.history()[0].model == "openai/fake-model"


def test_gateway_learns_a_servers_limits_from_its_headers(tmp_path) -> None:
    with FakeLLMServer(rpm=600, tpm=50000, ratelimit_headers=True) as server:
        gateway = gateway_for_server(server, tmp_path)
        gateway.complete(stage="s", role="user", messages=MESSAGES, template="t@1")
    requests = gateway.limits.bucket("openai/fake-model", "requests")
    tokens = gateway.limits.bucket("openai/fake-model", "tokens")
    assert requests is not None and requests.per_minute == pytest.approx(600 * RATE_MARGIN)
    assert tokens is not None and tokens.per_minute == pytest.approx(50000 * RATE_MARGIN)
