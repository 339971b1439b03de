"""A scripted fake LLM for unit tests: a litellm custom provider (`scripted/...`) answering from a function.

It goes through `litellm.completion` exactly like a real model, so the gateway's cache, retries,
ledger and structured-output handling are what the tests exercise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import litellm
from litellm import CustomLLM

PROVIDER = "scripted"
Script = Callable[[dict[str, Any]], "str | tuple[str, str] | tuple[str, str, dict[str, Any]]"]
"""A request's answer: its content, or (content, finish_reason) to end otherwise than "stop"."""


class ScriptedLLM(CustomLLM):
    """Answers each request with `script(request)`; records every request it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.script: Script | None = None
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        params = kwargs.get("optional_params") or {}
        request = {
            "model": model,
            "messages": messages,
            "response_format": params.get("response_format"),
            "seed": params.get("seed"),
            "stop": params.get("stop"),
        }
        with self._lock:
            self.requests.append(request)
        if self.script is None:
            raise RuntimeError("ScriptedLLM has no script")
        answer = self.script(request)
        content, finish_reason, *fields = answer if isinstance(answer, tuple) else (answer, "stop")
        response: litellm.ModelResponse = kwargs["model_response"]
        response.choices[0].message.content = content  # type: ignore[union-attr]
        response.choices[0].finish_reason = finish_reason
        if fields:  # a third item: the provider's own fields (`{"stopped": ...}` of the loop guard)
            response.choices[0].message.provider_specific_fields = fields[0]  # type: ignore[union-attr]
        response.usage = litellm.Usage(  # type: ignore[attr-defined]
            prompt_tokens=sum(len(str(m["content"]).split()) for m in messages),
            completion_tokens=len(content.split()),
            total_tokens=0,
        )
        response.model = f"{PROVIDER}/{model}"
        return response

    @property
    def calls(self) -> int:
        return len(self.requests)


_provider = ScriptedLLM()


def install() -> ScriptedLLM:
    """Register the provider with litellm (once) and reset its script and log."""
    current = list(litellm.custom_provider_map or [])
    if not any(entry.get("provider") == PROVIDER for entry in current):
        current.append({"provider": PROVIDER, "custom_handler": _provider})
        litellm.custom_provider_map = current
    _provider.script = None
    _provider.requests = []
    return _provider
