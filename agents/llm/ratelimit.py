"""How fast a model may be called: an adaptive limit on calls in flight, token buckets, and pauses.

Per model, for the whole process (every thread of a run shares its gateway's `ModelLimits`):

- **Calls in flight adapt (AIMD)**: `--concurrency` is the ceiling. A call refused with 429 or 503
  (and, with `--throttle-on-timeout`, one that timed out) multiplies the model's limit by
  `DECREASE` (at least 1); only calls that started after the last decrease can cause the next, so a
  burst of 429s from calls already under way counts once. After as many successes in a row as the
  current limit, it grows by one, up to the ceiling. The limit is a `PrioritySlots` whose count
  changes, so waiting calls are still served later stages first.
- **Latency guides the growth near the client's timeout**: a saturated server (vLLM, SGLang) does not
  refuse, it slows down, and past a point every call times out. By Little's law a call's latency
  grows at most in proportion to the calls in flight (`fitting`): a success whose latency, scaled to
  one more call in flight, would pass `HEADROOM` of the timeout does not count towards growth and
  starts the run of successes again, so the limit holds where calls still end in time. After a
  decrease for a timeout (a blind cut), a run of successes grows the limit up to what its slowest
  call leaves room for (at most doubling it), not by one: back near the timeout in a few runs
  instead of one run per step. After a 429 the growth stays one per run (latency says nothing of
  a provider's rate limit).
- **A slow start where timeouts count** (`slow_start`, with `--throttle-on-timeout`): a server that
  slows down rather than refusing tells of overload only a whole timeout late, and the calls the
  client then gives up on may still load it (a server that does not abort them), so the next calls
  time out too and the limit falls far below what the server can take. There the limit starts at
  one call in flight and grows as above, by what the latency leaves room for (at most doubling per
  run, as TCP's slow start does), so it reaches the timeout's headroom without ever passing it.
- **Requests and tokens per minute** (`--rpm`, `--tpm`, or learned from a provider's
  `x-ratelimit-limit-*` headers) are token buckets: a call takes one request and its prompt's estimated
  tokens before it is sent (waiting for them when the bucket is empty), and the tokens it really used
  are settled when the answer comes. The buckets run at `RATE_MARGIN` of the limit, so that a
  provider's window of 60 seconds never sees more than its limit. With Dask workers each process gets
  an equal share of the limits (`limit_share`), as it does of the calls in flight.
- **Retry-After pauses every call to the model**, not only the one that was refused (as Curator
  does): new calls wait until the time the provider named.

The clock and the sleep are parameters, so tests drive the limits without waiting.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from agents.llm.slots import PrioritySlots
from schemas.limits import ConcurrencyChange

DECREASE = 0.75
"""What a 429 or 503 multiplies a model's limit on calls in flight by."""
RATE_MARGIN = 0.95
"""The share of a requests- or tokens-per-minute limit the buckets use, against a provider's window."""
EVERY_MODEL = "*"
"""The key of `--rpm`/`--tpm` that gives every model the same limit."""
CHARS_PER_TOKEN = 4
"""The estimate of a prompt's tokens, before its answer tells the real count."""
HEADROOM = 0.9
"""The share of the client's timeout a call may take, at one more call in flight, for the limit to
grow: the rest is kept for the spread of latencies from one call to the next."""


class TokenBucket:
    """`per_minute` units a minute, at most `burst` at once. Thread-safe.

    A taker reserves its amount at once (the level may go below zero) and sleeps until the bucket
    would have refilled to cover it: takers are served in the order they came, and a large amount
    (a long prompt) waits its turn instead of starving.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError(f"a rate must be positive, not {per_minute}")
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._stamp = clock()
        self.per_minute = per_minute
        self.burst = self._level = _burst(per_minute)

    @property
    def level(self) -> float:
        """What the bucket holds now (below zero: what its takers owe)."""
        with self._lock:
            self._refill()
            return self._level

    def set_rate(self, per_minute: float) -> None:
        """A new rate (the level stays, capped at the new burst)."""
        if per_minute <= 0:
            raise ValueError(f"a rate must be positive, not {per_minute}")
        with self._lock:
            self._refill()
            self.per_minute, self.burst = per_minute, _burst(per_minute)
            self._level = min(self._level, self.burst)

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.burst, self._level + (now - self._stamp) * self.per_minute / 60)
        self._stamp = now

    def take(self, amount: float = 1.0) -> float:
        """Take `amount`, sleeping until the bucket covers it; the seconds slept."""
        with self._lock:
            self._refill()
            self._level -= amount
            wait = -self._level * 60 / self.per_minute if self._level < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def settle(self, amount: float) -> None:
        """Take `amount` more (or give it back, when negative) without waiting: what a call really
        used against what it reserved."""
        with self._lock:
            self._refill()
            self._level = min(self.burst, self._level - amount)


def _burst(per_minute: float) -> float:
    """What a bucket holds at most: one second's worth (at least one unit)."""
    return max(1.0, per_minute / 60)


def fitting(latency_s: float, limit: int, timeout_s: float | None) -> float:
    """How many calls in flight a server that answered in `latency_s` at `limit` calls in flight
    would still answer within `HEADROOM` of the client's timeout (no timeout: no bound).

    At saturation a server's throughput no longer grows with the calls in flight, so by Little's law
    (calls in flight = throughput x latency) the latency grows in proportion to them: at `n` calls a
    call takes `latency_s * n / limit`. While the throughput still grows, the latency grows less, so
    this is a lower bound of what fits.
    """
    if timeout_s is None or latency_s <= 0:
        return math.inf
    return limit * HEADROOM * timeout_s / latency_s


class AdaptiveLimit:
    """The calls in flight to one model: at most `limit`, which AIMD moves between 1 and `ceiling`,
    holding its growth while the calls' latency nears `timeout_s` (`fitting`)."""

    def __init__(
        self,
        model: str,
        ceiling: int,
        *,
        adaptive: bool,
        on_change: Callable[[str, int], None],
        timeout_s: float | None = None,
        slow_start: bool = False,
    ) -> None:
        """`slow_start`: begin at one call in flight, growing as latency leaves room (when adaptive)."""
        self.model, self.ceiling, self.adaptive, self.timeout_s = model, ceiling, adaptive, timeout_s
        slow_start = slow_start and adaptive
        self.slots = PrioritySlots(1 if slow_start else ceiling)
        self._on_change = on_change
        self._lock = threading.Lock()
        self._successes = 0
        self._slowest = 0.0  # the slowest latency of the run of successes
        self._guided = slow_start  # in the slow start or after a decrease for a timeout: latency guides
        self._epoch = 0  # decreases so far: a refusal counts only if its call began after the last one

    @property
    def limit(self) -> int:
        return self.slots.count

    @contextmanager
    def hold(self, priority: int) -> Iterator[int]:
        """A slot of this model; yields the epoch to hand back to `throttled`."""
        with self.slots.hold(priority):
            yield self._epoch

    def succeeded(self, latency_s: float = 0.0) -> None:
        """One more success in a row, answered in `latency_s`. After as many as the limit, it grows: by
        one, or, in the slow start and after a decrease for a timeout, up to what `fitting` says the
        slowest of them leaves room for (at most double). A success too slow for one more call in
        flight starts the run again: the limit holds."""
        if not self.adaptive:
            return
        with self._lock:
            limit = self.limit
            if fitting(latency_s, limit, self.timeout_s) < limit + 1:
                self._successes, self._slowest = 0, 0.0
                return
            self._successes += 1
            self._slowest = max(self._slowest, latency_s)
            if self._successes < limit or limit >= self.ceiling:
                return
            grown = limit + 1
            if self._guided:
                room = fitting(self._slowest, limit, self.timeout_s)
                grown = max(grown, math.floor(min(room, 2 * limit)))
            self._successes, self._slowest = 0, 0.0
            self.slots.resize(min(self.ceiling, grown))
            value = self.limit
        self._on_change(self.model, value)

    def throttled(self, epoch: int, *, timed_out: bool = False) -> None:
        """A call begun in `epoch` was refused for load (`timed_out`: it timed out): the limit
        shrinks, once per epoch."""
        if not self.adaptive:
            return
        with self._lock:
            self._successes, self._slowest = 0, 0.0
            if epoch != self._epoch:
                return
            self._epoch += 1
            self._guided = timed_out
            self.slots.resize(max(1, math.floor(self.limit * DECREASE)))
            value = self.limit
        self._on_change(self.model, value)


@dataclass(frozen=True)
class Admission:
    """A call let through to a model: its epoch and the tokens it reserved."""

    model: str
    epoch: int
    tokens: int


class ModelLimits:
    """Every model's adaptive limit, buckets and pause, for one process. Thread-safe."""

    def __init__(
        self,
        *,
        ceiling: int,
        adaptive: bool = True,
        rpm: Mapping[str, int] | None = None,
        tpm: Mapping[str, int] | None = None,
        share: int = 1,
        timeout_s: float | None = None,
        slow_start: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`timeout_s`: the client's timeout per call, near which the limits stop growing;
        `slow_start`: each model's limit begins at one call in flight (see the module)."""
        self.ceiling, self.adaptive, self.share, self.timeout_s = ceiling, adaptive, share, timeout_s
        self.slow_start = slow_start
        self._given = {"requests": dict(rpm or {}), "tokens": dict(tpm or {})}
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._limits: dict[str, AdaptiveLimit] = {}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._paused_until: dict[str, float] = {}
        self._history: list[ConcurrencyChange] = []

    # -- per model state -----------------------------------------------------------------------

    def limit(self, model: str) -> AdaptiveLimit:
        with self._lock:
            if model not in self._limits:
                limit = self._limits[model] = AdaptiveLimit(
                    model,
                    self.ceiling,
                    adaptive=self.adaptive,
                    on_change=self._record,
                    timeout_s=self.timeout_s,
                    slow_start=self.slow_start,
                )
                if limit.limit != self.ceiling:  # a slow start: the history begins below the ceiling
                    self._history.append(self._change(model, limit.limit))
            return self._limits[model]

    def bucket(self, model: str, kind: str) -> TokenBucket | None:
        """The model's bucket of `kind` ("requests" or "tokens"), if it has a limit of that kind."""
        with self._lock:
            if (model, kind) not in self._buckets:
                given = self._given[kind]
                per_minute = given.get(model, given.get(EVERY_MODEL))
                if per_minute is None:
                    return None
                self._buckets[model, kind] = self._new_bucket(per_minute)
            return self._buckets[model, kind]

    def _new_bucket(self, per_minute: float) -> TokenBucket:
        return TokenBucket(per_minute * RATE_MARGIN / self.share, clock=self._clock, sleep=self._sleep)

    def _change(self, model: str, value: int) -> ConcurrencyChange:
        return ConcurrencyChange(at=datetime.now(UTC), model=model, limit=value, ceiling=self.ceiling)

    def _record(self, model: str, value: int) -> None:
        change = self._change(model, value)
        with self._lock:
            self._history.append(change)

    # -- a call ----------------------------------------------------------------------------------

    @contextmanager
    def admit(self, model: str, priority: int, prompt_chars: int) -> Iterator[Admission]:
        """Hold a slot of the model, wait out any pause, then take a request and the prompt's
        estimated tokens from its buckets; the admission is for `succeeded`/`throttled`."""
        limit = self.limit(model)
        with limit.hold(priority) as epoch:
            self.wait_pause(model)
            if (requests := self.bucket(model, "requests")) is not None:
                requests.take(1)
            tokens = math.ceil(prompt_chars / CHARS_PER_TOKEN)
            if (bucket := self.bucket(model, "tokens")) is not None:
                bucket.take(tokens)
            yield Admission(model, epoch, tokens)

    def wait_pause(self, model: str) -> None:
        """Sleep until the model's pause (from a Retry-After) is over."""
        while True:
            with self._lock:
                left = self._paused_until.get(model, 0.0) - self._clock()
            if left <= 0:
                return
            self._sleep(left)

    def pause(self, model: str, seconds: float) -> None:
        """No new call to the model for `seconds` (a longer pause already set stays)."""
        with self._lock:
            until = self._clock() + seconds
            self._paused_until[model] = max(self._paused_until.get(model, 0.0), until)

    def succeeded(
        self, admission: Admission, tokens_used: int, headers: Mapping[str, str], latency_s: float
    ) -> None:
        """The call was answered after `latency_s` (from request to answer): settle its tokens, learn
        limits from the headers, grow the limit (unless the latency says the server is near the
        timeout)."""
        self.learn(admission.model, headers)
        if (bucket := self.bucket(admission.model, "tokens")) is not None:
            bucket.settle(tokens_used - admission.tokens)
        self.limit(admission.model).succeeded(latency_s)

    def throttled(
        self, admission: Admission, retry_after_s: float | None, *, timed_out: bool = False
    ) -> None:
        """The call was refused for load (429, 503, or, `timed_out`, a timeout when they count): shrink
        the limit, and pause the model for the time the provider named."""
        if retry_after_s is not None and retry_after_s > 0:
            self.pause(admission.model, retry_after_s)
        self.limit(admission.model).throttled(admission.epoch, timed_out=timed_out)

    def learn(self, model: str, headers: Mapping[str, str]) -> None:
        """Take a provider's `x-ratelimit-limit-requests|tokens` as the model's limits, unless given."""
        for kind in ("requests", "tokens"):
            given = self._given[kind]
            if model in given or EVERY_MODEL in given:
                continue
            announced = _positive_int(headers.get(f"x-ratelimit-limit-{kind}"))
            if announced is None:
                continue
            with self._lock:
                bucket = self._buckets.get((model, kind))
                if bucket is None:
                    self._buckets[model, kind] = self._new_bucket(announced)
                    continue
            wanted = announced * RATE_MARGIN / self.share
            if bucket.per_minute != wanted:
                bucket.set_rate(wanted)

    # -- what shows -------------------------------------------------------------------------------

    def current(self) -> dict[str, int]:
        """Each model's limit on calls in flight, for the models whose limit has ever changed."""
        with self._lock:
            changed = {change.model for change in self._history}
            return {model: limit.limit for model, limit in self._limits.items() if model in changed}

    def history(self) -> list[ConcurrencyChange]:
        """Every change of a model's limit, in order."""
        with self._lock:
            return list(self._history)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a refusal's headers ask for: `retry-after-ms`, else `Retry-After` (seconds, or an HTTP
    date), else None."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if (ms := _number(lowered.get("retry-after-ms"))) is not None:
        return ms / 1000
    value = lowered.get("retry-after")
    if value is None:
        return None
    if (seconds := _number(value)) is not None:
        return seconds
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def _positive_int(text: str | None) -> int | None:
    value = _number(text)
    return int(value) if value is not None and value >= 1 else None
