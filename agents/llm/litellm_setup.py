"""litellm, set up once per process for the gateway: imported late, warmed up and priced, through
its public settings only.

- Imported by the first call that needs a model, and warmed up there (`import_litellm`).
- A model missing from litellm's price list (a self-hosted one) is registered at zero cost once
  (`price_unlisted`, with litellm's `register_model`): litellm then prices its calls at 0 without a
  failed lookup, a warning or an error on each.
- A price given for a model (`--price MODEL=IN/OUT`, `LLMConfig.prices`) is registered the same way,
  once, before its first call (`price_unlisted`); `has_price` tells whether a model's calls are priced.
- The ledger's price of a call is the one litellm gives the answer (`call_cost`).

litellm's own work per answer (its cost calculation, and the success-logging payload it builds on a
background thread) runs as litellm ships it: about 1 ms of CPU a call, small beside a model's latency.
"""

from __future__ import annotations

import logging
import threading
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
        litellm.completion(
            model="openai/toolforge-warm-up",
            messages=[{"role": "user", "content": "warm up"}],
            mock_response="ok",  # answered by litellm itself: no request leaves the process
        )
    except Exception as exc:  # only a head start: the first real call loads whatever is missing
        log.debug("litellm warm-up skipped: %s", exc)


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


def price_unlisted(litellm: ModuleType, model: str, price: tuple[float, float] | None = None) -> None:
    """Register a model's `price` (USD per prompt and completion token) with litellm, once per
    process; a model litellm has no price for and none is given (a self-hosted one), at zero cost:
    unlisted, litellm searches its price list again on every call (about 1 ms of CPU each)."""
    if model in _price_checked or is_local(model) or is_hf(model):
        return
    with _price_lock:
        if model in _price_checked:
            return
        listed = price is None
        if listed:
            try:
                litellm.get_model_info(model=model)
            except Exception:
                listed = False
        if not listed:
            given = price or (0.0, 0.0)
            provider = litellm.get_llm_provider(model=model)[1]
            rates = {"input_cost_per_token": given[0], "output_cost_per_token": given[1], "mode": "chat"}
            litellm_logger = logging.getLogger("LiteLLM")
            level = litellm_logger.level
            litellm_logger.setLevel(logging.ERROR)  # it warns that cache-token prices default to 0
            try:
                litellm.register_model({model: {**rates, "litellm_provider": provider}})
            finally:
                litellm_logger.setLevel(level)
            if price is None:
                _unpriced_models.add(model)
        _price_checked.add(model)


def has_price(model: str, price: tuple[float, float] | None = None) -> bool:
    """Whether `model`'s calls are priced: an in-process model (free), a price given for it, or one in
    litellm's price list (a model registered at zero by `price_unlisted` is not)."""
    if is_local(model) or is_hf(model) or price is not None:
        return True
    if model in _unpriced_models:
        return False
    try:
        info = import_litellm().get_model_info(model=model)
    except Exception:
        return False
    return info.get("input_cost_per_token") is not None or info.get("output_cost_per_token") is not None
