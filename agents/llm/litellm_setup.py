"""litellm, set up once per process for the gateway: imported late, warmed up, priced, and spared the
work per call whose result nothing reads.

Every call through litellm costs the calling process 5–7 ms of CPU (bench/README.md, "Where the time
goes"). What this module takes off that, each measured in a loop against the fake server:
- success logging, a payload built on a background thread for every answer, skipped while no litellm
  callback is registered (`unlogged`: 1–3 ms a call);
- a price lookup that fails on every call for a model missing from litellm's price list (a
  self-hosted one): it is registered at zero cost once (`price_unlisted`: about 1 ms a call);
- the cost calculation litellm runs for every answer, short-circuited to zero for the models
  registered at zero cost, where its answer is known (`_zero_cost_for_unpriced`: about 1 ms a call).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from types import ModuleType
from typing import Any

from agents.llm.config import is_hf, is_local

log = logging.getLogger(__name__)

_litellm: ModuleType | None = None
_litellm_lock = threading.Lock()
_unpriced_models: set[str] = set()
_price_checked: set[str] = set()
_price_lock = threading.Lock()


def import_litellm() -> ModuleType:
    """litellm, imported and set up by the first call that needs a model: a run answered wholly from
    the cache never imports it (about 2 s of a re-run's time)."""
    global _litellm
    if _litellm is None:
        with _litellm_lock:
            if _litellm is None:
                import litellm

                from agents.llm import hf_provider, local_provider

                litellm.suppress_debug_info = True
                litellm.drop_params = True
                local_provider.register()
                hf_provider.register()
                _zero_cost_for_unpriced(litellm)
                _warm_up(litellm)
                _litellm = litellm
    return _litellm


def _warm_up(litellm: ModuleType) -> None:
    """Load what litellm defers to its first completion (its tokenizer, the modules and response types
    every call uses, the OpenAI SDK's resources that `openai/` and other routes use: about 0.6 s),
    once, here. Left to the first calls, that work runs under Python's import locks inside every slot
    at once, and the first `concurrency` calls all wait for it."""
    try:
        import openai.resources  # noqa: F401

        litellm.encoding  # noqa: B018  (a lazy attribute: loads tiktoken's default encoding)
        with unlogged(litellm):
            litellm.completion(
                model="openai/toolforge-warm-up",
                messages=[{"role": "user", "content": "warm up"}],
                mock_response="ok",  # answered by litellm itself: no request leaves the process
            )
    except Exception as exc:  # only a head start: the first real call loads whatever is missing
        log.debug("litellm warm-up skipped: %s", exc)


def _zero_cost_for_unpriced(litellm: ModuleType) -> None:
    """litellm prices every answer as it arrives (its cost-map lookups and token breakdown, about 1 ms
    of CPU a call); for a model registered at zero cost by `price_unlisted` the price is known to be
    0, so it is given at once. Priced models go through litellm's own calculation unchanged."""
    logging_class = getattr(import_module("litellm.litellm_core_utils.litellm_logging"), "Logging", None)
    original = getattr(logging_class, "response_cost_calculator", None)
    if original is None or getattr(original, "_toolforge", False):
        return  # another litellm release: keep its behaviour, pay its cost

    @functools.wraps(original)
    def response_cost_calculator(self: Any, *args: Any, **kwargs: Any) -> float | None:
        if kwargs.get("litellm_model_name") in _unpriced_models:
            return 0.0
        return original(self, *args, **kwargs)

    response_cost_calculator._toolforge = True  # type: ignore[attr-defined]
    logging_class.response_cost_calculator = response_cost_calculator  # type: ignore[union-attr]


@contextmanager
def unlogged(litellm: ModuleType) -> Iterator[None]:
    """A call without litellm's success logging when no litellm callback is registered: litellm
    builds a logging payload for every answer on a background thread of this process (2-3 ms of CPU
    a call, measured in bench/README.md) that nothing reads; the gateway keeps its own ledger.
    litellm skips it for its own internal calls, marked by this context variable."""
    marker = getattr(import_module("litellm._internal_context"), "is_internal_call", None)
    callbacks = ("callbacks", "success_callback", "_async_success_callback", "input_callback")
    if marker is None or any(getattr(litellm, name, None) for name in callbacks):
        yield
        return
    token = marker.set(True)
    try:
        yield
    finally:
        marker.reset(token)


def call_cost(response: Any, model: str) -> float:
    """The call's price in USD from litellm's price list; 0 for in-process models and unpriced ones."""
    if is_local(model) or is_hf(model) or model in _unpriced_models:
        return 0.0
    known = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
    if known is not None:  # litellm priced the call already
        return float(known)
    try:
        return float(import_litellm().completion_cost(completion_response=response) or 0.0)
    except Exception:  # not in the price list (a self-hosted model): do not look it up again
        _unpriced_models.add(model)
        return 0.0


def price_unlisted(litellm: ModuleType, model: str) -> None:
    """Register a model litellm has no price for (a self-hosted one) at zero cost, once per process:
    unlisted, litellm searches its price list again on every call (about 1 ms of CPU each)."""
    if model in _price_checked or is_local(model) or is_hf(model):
        return
    with _price_lock:
        if model in _price_checked:
            return
        try:
            litellm.get_model_info(model=model)
        except Exception:
            provider = litellm.get_llm_provider(model=model)[1]
            price = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0, "mode": "chat"}
            litellm_logger = logging.getLogger("LiteLLM")
            level = litellm_logger.level
            litellm_logger.setLevel(logging.ERROR)  # it warns that cache-token prices default to 0
            try:
                litellm.register_model({model: {**price, "litellm_provider": provider}})
            finally:
                litellm_logger.setLevel(level)
            _unpriced_models.add(model)
        _price_checked.add(model)
