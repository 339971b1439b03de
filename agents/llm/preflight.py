"""Check each model a run will use before any work is submitted: fail in seconds, not per item.

For every distinct (model, api base) the chosen roles use: an in-process GGUF model needs its file
and llama-cpp-python; any other model needs a provider litellm knows, the credentials litellm says
it needs (unless an `api_base` is given: self-hosted servers rarely need one), and one minimal call
that is not refused. Refused means: credentials rejected, model unknown, request refused, or nothing
listening at the address. A rate limit, a server error or a slow answer is no configuration fault:
the run starts, and the gateway's circuit breaker stops it if every call keeps failing.

A model that passed is not checked again by the same process for `CHECK_VALID_S` seconds, so the
command line's check (before Prefect starts) and the flow's own (for deployments) cost one call.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from agents.llm.config import HF_PROVIDER, LOCAL_PROVIDER, is_hf
from agents.llm.errors import ModelUnavailable
from agents.llm.gguf import local_model_problem
from agents.llm.hf_provider import hf_model_problem
from agents.llm.redact import redact
from agents.llm.retry import cannot_connect

if TYPE_CHECKING:
    from agents.llm.gateway import LLMGateway

PREFLIGHT_STAGE = "preflight"
PROBE_TIMEOUT_S = 30.0
CHECK_VALID_S = 300.0
CONNECT_TRIES = 2
_PROBE_MESSAGES = [{"role": "user", "content": "Reply with the word OK."}]
_ADDRESS = re.compile(r"(_API_BASE|_BASE_URL|_URL|_HOST|_ENDPOINT)$")

_passed: dict[tuple[str, str | None], float] = {}
_passed_lock = threading.Lock()


def check_models(gateway: LLMGateway, roles: Iterable[str]) -> None:
    """ModelUnavailable for the first model the `roles` use that cannot serve the run; the models are
    checked at the same time, each once."""
    by_model: dict[str, list[str]] = {}
    for role in dict.fromkeys(roles):
        by_model.setdefault(gateway.config.model_for(role), []).append(role)
    unchecked = {m: r for m, r in by_model.items() if not _recently_passed(m, gateway.config.api_base)}
    if not unchecked:
        return
    with ThreadPoolExecutor(max_workers=len(unchecked), thread_name_prefix="model-check") as pool:
        problems = list(pool.map(lambda item: _problem(gateway, *item), unchecked.items()))
    for (model, roles_of_model), problem in zip(unchecked.items(), problems, strict=True):
        if problem is not None:
            label = ("role " if len(roles_of_model) == 1 else "roles ") + ", ".join(roles_of_model)
            raise ModelUnavailable(label, model, problem, api_base=gateway.config.api_base)
        with _passed_lock:
            _passed[model, gateway.config.api_base] = time.monotonic()


def _recently_passed(model: str, api_base: str | None) -> bool:
    with _passed_lock:
        when = _passed.get((model, api_base))
    return when is not None and time.monotonic() - when < CHECK_VALID_S


def _problem(gateway: LLMGateway, model: str, roles: list[str]) -> str | None:
    """Why `model` cannot serve the run, or None."""
    if model.startswith(f"{LOCAL_PROVIDER}/"):
        return local_model_problem(model.removeprefix(f"{LOCAL_PROVIDER}/"))
    if is_hf(model):
        return hf_model_problem(model.removeprefix(f"{HF_PROVIDER}/"))
    from agents.llm.litellm_setup import import_litellm

    litellm = import_litellm()
    provider = model.split("/", 1)[0]
    in_process = {entry.get("provider") for entry in getattr(litellm, "custom_provider_map", None) or []}
    if provider in in_process:
        return None  # a provider in this process: no credentials, no server
    api_base = gateway.config.api_base
    try:
        litellm.get_llm_provider(model=model, api_base=api_base)
    except Exception:
        return (
            "litellm cannot tell which provider serves it; name the model as provider/model, e.g. "
            "openai/gpt-4o-mini, anthropic/claude-3-5-haiku-20241022, hosted_vllm/NAME with --api-base"
        )
    if not api_base and gateway.config.api_key is None:  # a key from a Secret block: the probe tells
        environment = litellm.validate_environment(model=model)
        missing = [k for k in environment.get("missing_keys") or [] if not _ADDRESS.search(k)]
        if missing:  # an address litellm asks for has a default (Ollama's localhost): the call tells
            return (
                f"missing credentials: set {' and '.join(missing)} in the environment "
                "(or name a Prefect Secret block holding the key: secret_block)"
            )
    return _probe(gateway, litellm, model, roles[0])


def _probe(gateway: LLMGateway, litellm: Any, model: str, role: str) -> str | None:
    """One minimal call: why it was refused, or None (answered, or failed in a way a retry can fix)."""
    refused = (
        litellm.AuthenticationError,
        litellm.PermissionDeniedError,
        litellm.NotFoundError,
        litellm.BadRequestError,
    )
    timeout = min(gateway.config.timeout_s, PROBE_TIMEOUT_S)
    for attempt in range(CONNECT_TRIES):
        try:
            response = litellm.completion(
                model=model,
                messages=_PROBE_MESSAGES,
                max_tokens=5,
                timeout=timeout,
                num_retries=0,
                **gateway.endpoint(model),
            )
        except refused as exc:
            gateway.ledger.record_error(PREFLIGHT_STAGE, role, model)
            return f"{_kind(exc)}: {_first_line(exc)}"
        except Exception as exc:
            gateway.ledger.record_error(PREFLIGHT_STAGE, role, model)
            if not cannot_connect(exc):  # rate limit, server error, timeout: the run may still go
                _log_passing_failure(model, exc)
                return None
            if attempt + 1 < CONNECT_TRIES:
                time.sleep(0.5)
                continue
            return f"cannot connect: {_first_line(exc)}"
        usage = getattr(response, "usage", None)
        gateway.ledger.record_call(
            PREFLIGHT_STAGE,
            role,
            model,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=0.0,
        )
        return None
    return None


def _kind(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    names = {401: "credentials refused", 403: "permission denied", 404: "model not found"}
    label = names.get(status, "request refused") if isinstance(status, int) else "request refused"
    return f"{label} ({status})" if isinstance(status, int) else label


def _first_line(exc: Exception) -> str:
    text = redact(str(exc)).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _log_passing_failure(model: str, exc: Exception) -> None:
    import logging

    logging.getLogger(__name__).warning(
        "model check of %s: %s (not a configuration fault; the run starts)", model, _first_line(exc)
    )
