"""Which LLM errors are worth another try, and how long to wait before it."""

from __future__ import annotations

import random

import httpx

TRANSIENT_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


def is_transient(exc: BaseException) -> bool:
    """Timeouts, rate limits, 5xx and dropped connections are transient; auth, bad requests and
    context-too-long are not."""
    import litellm

    permanent = (
        litellm.AuthenticationError,
        litellm.PermissionDeniedError,
        litellm.BadRequestError,  # includes ContextWindowExceededError
        litellm.NotFoundError,
        litellm.UnprocessableEntityError,
    )
    if isinstance(exc, permanent):
        return False
    if isinstance(exc, litellm.Timeout | litellm.APIConnectionError | litellm.RateLimitError):
        return True
    if isinstance(exc, httpx.TransportError | TimeoutError | ConnectionError):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status in TRANSIENT_STATUS


def cannot_connect(exc: BaseException) -> bool:
    """Whether the error, or one it was raised from, is a failure to reach the server at all (refused,
    no route, unknown host). litellm reports some of these as a 500 InternalServerError."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.ConnectError | ConnectionError) or type(current).__name__ in {
            "APIConnectionError",
            "ConnectError",
        }:
            return True
        current = current.__cause__ or current.__context__
    return False


def backoff_delay(attempt: int, *, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with equal jitter: half the capped delay, plus a random part of the other half."""
    capped = min(max_s, base_s * (2**attempt))
    return capped / 2 + (rng or random).uniform(0, capped / 2)
