"""`LLMGateway`: the one way the factory calls a model (importing `agents.llm` first keeps litellm offline).

It adds what every call needs: the role's model, structured output (schema-constrained decoding
where the provider has it, instructions plus parsing otherwise, then pydantic validation with the
errors fed back for a bounded number of repairs), a disk cache keyed by everything that changes
the answer, retries with backoff on transient errors, a limit on calls in flight across the run and
per model limits that adapt to a provider's refusals (`agents.llm.ratelimit`), and a usage ledger.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from agents.llm.cache import LLMCache, cache_key
from agents.llm.config import LOCAL_PROVIDER, LLMConfig, is_hf
from agents.llm.errors import LLMCallError, StructuredOutputError
from agents.llm.health import ModelHealth
from agents.llm.litellm_setup import call_cost, import_litellm, price_unlisted
from agents.llm.ratelimit import Admission, ModelLimits, retry_after_seconds
from agents.llm.redact import redact, register_secret
from agents.llm.retry import backoff_delay, is_transient
from agents.llm.slots import PrioritySlots
from agents.llm.structured import compact_schema, describe_error, extract_json_object
from agents.llm.usage import UsageLedger, current_ledger

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
INCOMPLETE_RETRIES = 2
"""Asks again after an answer cut at the token limit or empty."""
THROTTLED_WAITS = 20
"""Refusals with a Retry-After that a call waits out before they count among its `max_attempts`."""
THROTTLE_STATUS = frozenset({429, 503})
"""The answers that say a model is called too fast: they shrink its limit on calls in flight."""


class NativeCall(BaseModel):
    """One tool call of a model's answer."""

    id: str = ""
    name: str
    arguments: str = Field(description="JSON text, as the model wrote it.")


class ToolAnswer(BaseModel):
    """A model's answer to a request with tools: its text, its tool calls, and its reasoning where the
    model gives one apart (litellm's `reasoning_content`: o-series, DeepSeek-R1, Qwen3 on vLLM...)."""

    content: str = ""
    tool_calls: list[NativeCall] = Field(default_factory=list)
    reasoning: str = ""

    @classmethod
    def of(cls, message: Any) -> ToolAnswer:
        """From litellm's response message."""
        calls = [
            NativeCall(
                id=call.id or "", name=call.function.name or "", arguments=call.function.arguments or ""
            )
            for call in getattr(message, "tool_calls", None) or []
        ]
        reasoning = getattr(message, "reasoning_content", None)
        return cls(
            content=message.content or "",
            tool_calls=calls,
            reasoning=reasoning if isinstance(reasoning, str) else "",
        )


@dataclass(frozen=True)
class Answer:
    """One model answer and whether it came from the cache."""

    content: str
    cached: bool


@dataclass
class Tally:
    """LLM calls and tokens spent on one piece of work (answers from the cache included)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, usage: dict[str, int]) -> None:
        self.calls += 1
        self.prompt_tokens += int(usage.get("prompt_tokens", 0))
        self.completion_tokens += int(usage.get("completion_tokens", 0))


class LLMGateway:
    """Calls models for every role of one run. Thread-safe; share one per run."""

    def __init__(self, config: LLMConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.ledger = UsageLedger()
        self.cache = LLMCache(Path(config.cache_dir).expanduser() / "llm") if config.use_cache else None
        self.slots = PrioritySlots(config.concurrency)
        self.limits = ModelLimits(
            ceiling=config.concurrency,
            adaptive=config.adaptive_concurrency,
            rpm=config.rpm,
            tpm=config.tpm,
            share=config.limit_share,
            timeout_s=config.timeout_s,
            slow_start=config.throttle_on_timeout,
        )
        self._priority: dict[str, int] = {}
        self._in_flight: dict[str, Future[tuple[str, dict[str, int]]]] = {}
        self._in_flight_lock = threading.Lock()
        self._stored: set[str] = set()  # with `refresh_cache`: the answers this gateway asked for
        self._sleep = sleep
        self._rng = random.Random(config.seed)
        self._no_schema_support: set[str] = set()
        self.health = ModelHealth(config.stop_after_failures)
        for secret in config.secrets():
            register_secret(secret)

    # -- structured answers -------------------------------------------------------------------

    def structured(
        self,
        *,
        stage: str,
        role: str,
        messages: list[dict[str, str]],
        output: type[T],
        template: str,
        check: Callable[[T], None] | None = None,
        max_tokens: int | None = None,
        decoding_schema: dict[str, Any] | None = None,
        tally: Tally | None = None,
    ) -> T:
        """An answer parsed into `output` (and accepted by `check`), or StructuredOutputError.

        `template` is the prompt template's `name@version`: part of the cache key.
        `decoding_schema` replaces the model's JSON schema for decoding when the caller knows more
        (e.g. the functions of one tool); validation still uses `output` and `check`.
        """
        schema = decoding_schema or compact_schema(output)
        model = self.config.model_for(role)

        def ask(convo: list[dict[str, Any]]) -> Answer:
            # The schema is spelled out only when nothing constrains decoding: a small model under a
            # grammar does better without it (it tends to copy the schema's descriptions).
            constrained = self._response_format(model, schema, output.__name__) is not None
            return self.complete(
                stage=stage,
                role=role,
                messages=_with_format_instructions(convo, None if constrained else schema),
                schema=schema,
                schema_name=output.__name__,
                template=template,
                max_tokens=max_tokens,
                tally=tally,
            )

        def parse(answer: Answer) -> T:
            value = output.model_validate(extract_json_object(answer.content))
            if check is not None:
                check(value)
            return value

        def feedback(answer: Answer, problem: str) -> list[dict[str, Any]]:
            return [
                {"role": "assistant", "content": answer.content[:4000]},
                {
                    "role": "user",
                    "content": f"That answer is not valid: {problem}\n"
                    "Reply again with only the corrected JSON object.",
                },
            ]

        return self._repaired(messages, ask, parse, feedback, output.__name__)

    def _repaired(
        self,
        messages: list[dict[str, Any]],
        ask: Callable[[list[dict[str, Any]]], Answer],
        parse: Callable[[Answer], T],
        feedback: Callable[[Answer, str], list[dict[str, Any]]],
        what: str,
    ) -> T:
        """`parse(ask(messages))`; while it raises ValueError, the problem is added to the conversation
        (`feedback`) and the model asked again, `repair_attempts` times, then StructuredOutputError."""
        convo = list(messages)
        problem = ""
        for _ in range(self.config.repair_attempts + 1):
            answer = ask(convo)
            try:
                return parse(answer)
            except (ValueError, ValidationError) as exc:
                problem = describe_error(exc)
            convo = [*convo, *feedback(answer, problem)]
        attempts = self.config.repair_attempts + 1
        raise StructuredOutputError(f"no valid {what} after {attempts} attempt(s): {problem}")

    # -- native function calling --------------------------------------------------------------

    def with_tools(
        self,
        *,
        stage: str,
        role: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        template: str,
        read: Callable[[ToolAnswer], T],
        tool_choice: str = "auto",
        parallel_tool_calls: bool = False,
        max_tokens: int | None = None,
        tally: Tally | None = None,
    ) -> T:
        """An answer of a model called with `tools` (OpenAI function calling, through litellm), made
        into `T` by `read`; a ValueError of `read` is fed back for a bounded number of repairs, then
        StructuredOutputError."""
        options = {"tools": tools, "tool_choice": tool_choice, "parallel_tool_calls": parallel_tool_calls}

        def ask(convo: list[dict[str, Any]]) -> Answer:
            return self.complete(
                stage=stage,
                role=role,
                messages=convo,
                template=template,
                max_tokens=max_tokens,
                tally=tally,
                tools=options,
            )

        def feedback(answer: Answer, problem: str) -> list[dict[str, Any]]:
            return [{"role": "user", "content": f"That answer is not valid: {problem}\nAnswer again."}]

        def parse(answer: Answer) -> T:
            return read(ToolAnswer.model_validate_json(answer.content))

        return self._repaired(messages, ask, parse, feedback, "answer with tools")

    # -- raw completions ----------------------------------------------------------------------

    def complete(
        self,
        *,
        stage: str,
        role: str,
        messages: list[dict[str, str]],
        template: str,
        schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
        max_tokens: int | None = None,
        tally: Tally | None = None,
        tools: dict[str, Any] | None = None,
        stop: list[str] | None = None,
        cut_ok: bool = False,
    ) -> Answer:
        """One completion, from the cache when an identical request was answered before.

        With `tools` (litellm's `tools`, `tool_choice`, `parallel_tool_calls`), the answer's content
        is a `ToolAnswer` as JSON text: the message's text and its tool calls. With `stop`, the text
        ends before the first of these strings (a ReAct step before its `Observation:`). With `cut_ok`,
        an answer cut at the token limit is returned (and cached) as it is, not asked again: what an
        evaluation scores is what the model wrote.
        """
        model = self.config.model_for(role)
        params: dict[str, Any] = {
            "temperature": self.config.temperature,
            "max_tokens": max_tokens or self.config.max_tokens,
            "seed": self.config.seed,
        }
        if stop:
            params["stop"] = stop
        request = {
            "model": model,
            "api_base": self.config.api_base,  # never with credentials (LLMConfig takes them out)
            "messages": messages,
            "params": params,
            "schema": schema,
            "schema_name": schema_name,
            "template": template,
        }
        if cut_ok:
            request["cut_ok"] = True
        key = cache_key(request if tools is None else {**request, "tools": tools})

        # litellm looks for MCP tools among any `tools` through its proxy's modules, which need the `mcp`
        # package; these are plain functions, so its own switch skips the look.
        native = {**tools, "_skip_mcp_handler": True} if tools else {}

        def call() -> tuple[str, dict[str, int]]:
            return self._call_with_retries(
                stage, role, model, messages, {**params, **native}, schema, schema_name, cut_ok
            )

        if self.cache is None:
            (content, usage), cached = call(), False
        else:
            about = {"model": model, "template": template, "messages": messages}
            content, usage, cached = self._single_flight(key, call, about)
            if cached:
                current_ledger(self.ledger).record_cache_hit(stage, role, model)
        if tally is not None:
            tally.add(usage)
        return Answer(content=content, cached=cached)

    def _single_flight(
        self, key: str, call: Callable[[], tuple[str, dict[str, int]]], about: dict[str, Any]
    ) -> tuple[str, dict[str, int], bool]:
        """(content, usage, cached): the answer of an identical request already in flight; else the
        cached answer; else `call()`, stored with `about` beside it.

        One key gets one answer per cache, even when identical requests run at once (two simulations
        asking the executor the same thing): a re-run then replays exactly what the first run saw. The
        claim comes before the lookup, so the cache is read once per request: an owner stores its
        answer before it lets the key go, and whoever claims the key after finds the answer stored.
        """
        cache = self.cache
        assert cache is not None
        with self._in_flight_lock:
            in_flight = self._in_flight.get(key)
            owner = in_flight is None
            if in_flight is None:
                in_flight = self._in_flight[key] = Future()
        if not owner:
            content, usage = in_flight.result()  # raises the owner's error if its call failed
            return content, usage, True
        try:
            refreshed = self.config.refresh_cache and key not in self._stored
            if not refreshed and (entry := cache.get(key)) is not None:
                content, usage = entry["content"], entry.get("usage") or {}
            else:
                entry = None
                content, usage = call()
                cache.put(key, {**about, "content": content, "usage": usage})
                if self.config.refresh_cache:
                    self._stored.add(key)
            in_flight.set_result((content, usage))
            return content, usage, entry is not None
        except BaseException as exc:
            in_flight.set_exception(exc)
            raise
        finally:
            with self._in_flight_lock:
                del self._in_flight[key]

    def _call_with_retries(
        self,
        stage: str,
        role: str,
        model: str,
        messages: list[dict[str, str]],
        params: dict[str, Any],
        schema: dict[str, Any] | None,
        schema_name: str,
        cut_ok: bool = False,
    ) -> tuple[str, dict[str, int]]:
        """One model call, retried on transient errors, recorded in the ledger: (content, usage).

        An answer cut at the token limit (`finish_reason` "length"; unless `cut_ok`) or empty is asked
        again, with another sampling seed, up to `INCOMPLETE_RETRIES` times, and never returned: the
        cache must not keep it. ModelUnavailable, at once, when the model's circuit breaker has tripped
        (`agents.llm.health`).
        """
        attempts, attempt, incomplete, waits = self.config.max_attempts, 0, 0, 0
        priority, prompt_chars = self._priority.get(stage, len(self._priority)), _prompt_chars(messages)
        while True:
            if (stopped := self.health.tripped(model)) is not None:
                raise stopped
            response_format = self._response_format(model, schema, schema_name)
            admission: Admission | None = None
            try:
                litellm = import_litellm()  # the first call sets it up here, outside any slot
                price_unlisted(litellm, model, self.config.price_of(model))
                with (
                    self.limits.admit(model, priority, prompt_chars) as admission,
                    self.slots.hold(priority),
                ):
                    sent = time.monotonic()
                    response = litellm.completion(
                        model=model,
                        messages=messages,
                        response_format=response_format,
                        timeout=self.config.timeout_s,
                        num_retries=0,
                        **self.endpoint(model),
                        **{**params, "seed": params["seed"] + incomplete},
                    )
            except Exception as exc:
                current_ledger(self.ledger).record_error(stage, role, model)
                if response_format and _rejects_response_format(exc):
                    log.warning("%s does not accept response_format; using instructions instead", model)
                    self._no_schema_support.add(model)
                    continue
                retry_after = self._throttled(admission, exc)
                if retry_after is not None and waits < THROTTLED_WAITS:
                    waits += 1  # the model's pause holds this call back too, as it does every other
                    continue
                transient = is_transient(exc)
                attempt += 1
                if not transient or attempt == attempts:
                    tries = f" after {attempt} attempt(s)" if transient else ""
                    text = f"{type(exc).__name__}{tries}: {exc}"
                    raise self._failed(role, model, exc, text, transient) from None
                self._sleep(
                    backoff_delay(
                        attempt - 1,
                        base_s=self.config.backoff_base_s,
                        max_s=self.config.backoff_max_s,
                        rng=self._rng,
                    )
                )
                continue
            choice = response.choices[0]
            content = choice.message.content or ""
            if "tools" in params:  # the text and the calls, as JSON text ("" when both are empty)
                told = ToolAnswer.of(choice.message)
                content = told.model_dump_json() if told.content.strip() or told.tool_calls else ""
            usage = response.usage
            tokens = {
                "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
                "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
            }
            ledger = current_ledger(self.ledger)
            seconds = time.monotonic() - sent  # the model's latency: the limits' guide, and the forecast's
            ledger.record_call(
                stage, role, model, **tokens, cost_usd=call_cost(response, model), seconds=seconds
            )
            self.limits.succeeded(admission, sum(tokens.values()), _headers(response), seconds)
            cut = getattr(choice, "finish_reason", None) == "length"
            if content.strip() and (cut_ok or not cut):
                self.health.succeeded(model)
                return content, tokens
            incomplete += 1
            if incomplete > INCOMPLETE_RETRIES:
                stopped = (getattr(choice.message, "provider_specific_fields", None) or {}).get("stopped")
                why = (
                    (stopped or f"cut at the token limit ({params['max_tokens']}; raise --max-tokens)")
                    if cut
                    else "empty"
                )
                message = f"IncompleteAnswer: the answer was {why} on {incomplete} tries"
                raise self._failed(role, model, None, message, transient=False)

    def _throttled(self, admission: Admission | None, exc: Exception) -> float | None:
        """For a refusal that says the model is called too fast (429, 503; a timeout with
        `throttle_on_timeout`): shrink its limit and pause it for the Retry-After, which is returned
        (None: no wait was named, or the error is of another kind)."""
        if admission is None:
            return None
        timed_out = isinstance(exc, import_litellm().Timeout | TimeoutError)
        if getattr(exc, "status_code", None) not in THROTTLE_STATUS and not (
            timed_out and self.config.throttle_on_timeout
        ):
            return None
        retry_after = retry_after_seconds(_headers(exc))
        self.limits.throttled(admission, retry_after, timed_out=timed_out)
        return retry_after

    def concurrency_note(self) -> str:
        """` · concurrency 12/64` (per model when there are several) once adaptive limiting has
        changed a model's calls in flight; "" before."""
        current = self.limits.current()
        if not current:
            return ""
        ceiling = self.limits.ceiling
        if len(current) == 1:
            return f" · concurrency {next(iter(current.values()))}/{ceiling}"
        return " · concurrency " + ", ".join(f"{model} {n}/{ceiling}" for model, n in sorted(current.items()))

    def _failed(
        self, role: str, model: str, exc: Exception | None, text: str, transient: bool
    ) -> LLMCallError:
        """The error that ends a call (the breaker's, if this failure trips it), counted for the breaker."""
        message = redact(text)[:1000]
        kind = f"{type(exc).__name__}:{getattr(exc, 'status_code', '')}" if exc else text.split(":")[0]
        stopped = self.health.failed(role, model, kind, message)
        return stopped if stopped is not None else LLMCallError(message, transient=transient)

    def serve_first(self, stages: list[str]) -> None:
        """Give waiting calls of these stages a free slot first, in this order (later pipeline stages
        first keeps items moving through the run); other stages come after them."""
        self._priority = {stage: rank for rank, stage in enumerate(stages)}

    def _response_format(self, model: str, schema: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
        """How to ask this model for JSON matching `schema`, or None to rely on instructions (always
        for an `hf/` model, which decodes under no grammar)."""
        if schema is None or is_hf(model):
            return None
        mode = self.config.structured_output
        if model.startswith(f"{LOCAL_PROVIDER}/"):
            mode = "json_object"
        elif mode == "auto":
            supported = self.config.api_base is not None or _supports_schema(model)
            mode = "json_schema" if supported and model not in self._no_schema_support else "instructions"
        if mode == "json_object":
            return {"type": "json_object", "schema": schema}
        if mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": False},
            }
        return None

    def endpoint(self, model: str) -> dict[str, Any]:
        """api_base; the key read from a Prefect Secret block, if any; for OpenAI-compatible servers
        without a key in the environment, a placeholder key."""
        endpoint: dict[str, Any] = {}
        if self.config.api_key is not None:
            endpoint["api_key"] = self.config.api_key.get_secret_value()
        if not self.config.api_base:
            return endpoint
        endpoint["api_base"] = self.config.api_base_url()
        if "api_key" not in endpoint and model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
            endpoint["api_key"] = os.environ.get("TOOLFORGE_API_KEY", "no-key")
        return endpoint


def _with_format_instructions(
    messages: list[dict[str, str]], schema: dict[str, Any] | None
) -> list[dict[str, str]]:
    """Ask for a JSON object in the system message, spelling out the schema when one is given."""
    instruction = "Reply with one JSON object and nothing else."
    if schema is not None:
        instruction = (
            "Reply with one JSON object, and nothing else, that conforms to this JSON schema:\n"
            + json.dumps(schema, separators=(",", ":"))
        )
    if messages and messages[0]["role"] == "system":
        return [{"role": "system", "content": f"{messages[0]['content']}\n\n{instruction}"}, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


def _prompt_chars(messages: list[dict[str, Any]]) -> int:
    """The characters of a conversation's contents: what its prompt tokens are estimated from."""
    return sum(len(str(message.get("content") or "")) for message in messages)


def _headers(answer: Any) -> dict[str, str]:
    """The provider's HTTP headers of a litellm response or error, names in lower case ({} when none)."""
    raw = getattr(answer, "litellm_response_headers", None) or getattr(answer, "_response_headers", None)
    if raw is None and isinstance(hidden := getattr(answer, "_hidden_params", None), dict):
        raw = {
            name.removeprefix("llm_provider-"): value
            for name, value in (hidden.get("additional_headers") or {}).items()
        }
    try:
        return {str(name).lower(): str(value) for name, value in dict(raw or {}).items()}
    except (TypeError, ValueError):
        return {}


def _supports_schema(model: str) -> bool:
    try:
        return bool(import_litellm().supports_response_schema(model=model))
    except Exception:
        return False


def _rejects_response_format(exc: Exception) -> bool:
    return isinstance(exc, import_litellm().BadRequestError) and "response_format" in str(exc).lower()


_gateways: dict[str, LLMGateway] = {}
_gateways_lock = threading.Lock()


def gateway_for(config: LLMConfig, run_id: str) -> LLMGateway:
    """The run's shared gateway (created on first use), so that tasks in threads share slots and ledger."""
    with _gateways_lock:
        if run_id not in _gateways:
            _gateways[run_id] = LLMGateway(config)
        return _gateways[run_id]


def close_gateway(run_id: str) -> LLMGateway | None:
    """Forget a finished run's gateway; the gateway forgotten, if there was one."""
    with _gateways_lock:
        return _gateways.pop(run_id, None)
