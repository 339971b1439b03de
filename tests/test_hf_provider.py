"""Provider `hf`: a Hugging Face model folder run by transformers, through litellm like any model.

The model is a tiny random Llama and the tokenizer a character-level one, both made and saved here
(no hub download): what the tests check is the plumbing (prompt, stop, limits, usage, tool calls,
errors), not the text.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agents.llm import hf_provider
from agents.llm.config import LLMConfig, is_hf
from agents.llm.gateway import LLMGateway
from agents.llm.hf_provider import Generated, HfModelError, TextToolCall, read_tool_calls
from agents.llm.litellm_setup import import_litellm
from tests.support.tiny_model import save_tiny_model

TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if tools %}<|tools|>{{ tools | map(attribute='function') | map(attribute='name') | join(',') }}\n"
    "{% endif %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
MESSAGES = [
    {"role": "system", "content": "Answer in ReAct."},
    {"role": "user", "content": "Thought: what is the weather?\nAction:"},
]
Spy = Callable[[Path], list[list[int]]]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def raw_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hf") / "raw"
    save_tiny_model(folder, chat_template=None)
    return folder


@pytest.fixture(scope="module")
def chat_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hf") / "chat"
    save_tiny_model(folder, chat_template=TEMPLATE)
    return folder


@pytest.fixture
def spy_inputs(monkeypatch: pytest.MonkeyPatch) -> Spy:
    """`spy(folder)`: the list of the token ids each later `generate` of the folder's model is given."""

    def spy(folder: Path) -> list[list[int]]:
        seen: list[list[int]] = []
        model = hf_provider.load(str(folder)).model
        original = model.generate

        def generate(*args: Any, **kwargs: Any) -> Any:
            seen.append(kwargs["input_ids"][0].tolist())
            return original(*args, **kwargs)

        monkeypatch.setattr(model, "generate", generate)
        return seen

    return spy


def _complete(folder: Path, **kwargs: Any) -> Any:
    params = {"max_tokens": 8, "temperature": 0, "messages": MESSAGES, **kwargs}
    if "tools" in params:  # plain functions: spare litellm its look for MCP tools (as the gateway does)
        params["_skip_mcp_handler"] = True
    return import_litellm().completion(model=f"hf/{folder}", **params)


# -- the model through litellm --------------------------------------------------------------------


def test_raw_prompt_reaches_the_model_unchanged(raw_folder: Path, spy_inputs: Spy):
    seen_inputs = spy_inputs(raw_folder)
    response = _complete(raw_folder)
    joined = "\n".join(m["content"] for m in MESSAGES)
    tokenizer = hf_provider.load(str(raw_folder)).tokenizer
    assert seen_inputs == [tokenizer(joined)["input_ids"]]
    assert tokenizer.decode(seen_inputs[0]) == joined

    from transformers import AutoModelForCausalLM

    direct = AutoModelForCausalLM.from_pretrained(raw_folder, local_files_only=True)
    ids = tokenizer(joined, return_tensors="pt")
    out = direct.generate(**ids, max_new_tokens=8, do_sample=False, pad_token_id=3)
    expected = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert response.choices[0].message.content == expected != ""
    assert response.usage.prompt_tokens == len(joined)  # a token per character
    assert response.usage.completion_tokens == 8
    assert response.usage.total_tokens == len(joined) + 8


def test_chat_template_renders_the_messages_and_the_tools(chat_folder: Path, spy_inputs: Spy):
    seen_inputs = spy_inputs(chat_folder)
    response = _complete(chat_folder, tools=TOOLS)
    tokenizer = hf_provider.load(str(chat_folder)).tokenizer
    assert tokenizer.decode(seen_inputs[0]) == (
        "<|system|>Answer in ReAct.\n<|user|>Thought: what is the weather?\nAction:\n"
        "<|tools|>get_weather\n<|assistant|>"
    )
    assert response.choices[0].message.content
    assert response.model == f"hf/{chat_folder}"


def test_raw_suffix_skips_the_chat_template(chat_folder: Path, spy_inputs: Spy):
    """`hf/FOLDER#raw`: a model trained on the react export's raw text gets that text, template or not."""
    seen_inputs = spy_inputs(chat_folder)
    _complete(Path(f"{chat_folder}#raw"))
    joined = "\n".join(m["content"] for m in MESSAGES)
    tokenizer = hf_provider.load(str(chat_folder)).tokenizer
    assert tokenizer.decode(seen_inputs[0]) == joined


def test_greedy_and_seeded_sampling_repeat_and_stop_at_max_tokens(raw_folder: Path):
    first, again = _complete(raw_folder), _complete(raw_folder)
    assert first.choices[0].message.content == again.choices[0].message.content
    assert first.choices[0].finish_reason == "length"
    sampled = [_complete(raw_folder, temperature=1.0, seed=7).choices[0].message.content for _ in range(2)]
    assert sampled[0] == sampled[1]


def test_a_stop_string_cuts_the_text(raw_folder: Path):
    full = _complete(raw_folder).choices[0].message.content
    stop = full[3:5]
    for given in (stop, [stop, "never written"]):
        cut = _complete(raw_folder, stop=given)
        assert cut.choices[0].message.content == full[: full.find(stop)]
        assert cut.choices[0].finish_reason == "stop"
        assert cut.usage.completion_tokens <= 5


def test_tool_calls_come_back_in_litellm_shape(chat_folder: Path, monkeypatch: pytest.MonkeyPatch):
    text = 'Let me look.\n<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
    monkeypatch.setattr(hf_provider, "generate", lambda *a, **k: Generated(text, "stop", 10, 20))
    message = _complete(chat_folder, tools=TOOLS).choices[0]
    assert message.finish_reason == "tool_calls"
    assert message.message.content == "Let me look."
    [call] = message.message.tool_calls
    assert (call.id, call.type, call.function.name) == ("call_1", "function", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    without_tools = _complete(chat_folder).choices[0]
    assert without_tools.message.content == text and not without_tools.message.tool_calls


# -- errors ---------------------------------------------------------------------------------------


def test_a_missing_folder_is_a_clear_error(tmp_path: Path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(HfModelError, match=r"Hugging Face model folder not found: .*no-such-model"):
        hf_provider.load(str(missing))
    litellm = import_litellm()
    with pytest.raises(litellm.BadRequestError, match="Hugging Face model folder not found") as raised:
        _complete(missing)  # a mistake, not a transient error: the gateway does not retry it
    assert isinstance(raised.value.__cause__, HfModelError)
    assert "not found" in (hf_provider.hf_model_problem(str(missing)) or "")
    with pytest.raises(HfModelError, match=r"not a Hugging Face model folder: it has no config\.json"):
        hf_provider.load(str(tmp_path))


def test_missing_transformers_is_a_clear_error(raw_folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(HfModelError, match=r"pip install -e '\.\[hf\]'"):
        hf_provider._load_folder(raw_folder)


def test_importing_the_provider_loads_neither_torch_nor_transformers():
    code = "import sys, agents.llm.hf_provider; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_gateway_calls_an_hf_model_at_no_cost(raw_folder: Path, tmp_path: Path):
    full = _complete(raw_folder).choices[0].message.content
    gateway = LLMGateway(LLMConfig(model=f"hf/{raw_folder}", temperature=0, cache_dir=str(tmp_path)))
    answer = gateway.complete(
        stage="eval", role="assistant", messages=MESSAGES, template="t@1", max_tokens=8, stop=[full[3:5]]
    )
    assert answer.content == full[: full.find(full[3:5])]
    usage = gateway.ledger.summary()
    assert (usage.calls, usage.cost_usd) == (1, 0.0) and usage.completion_tokens > 0


def test_the_gateway_asks_an_hf_model_for_json_by_instructions(tmp_path: Path):
    assert is_hf("hf/some/folder") and not is_hf("local/smollm2")
    gateway = LLMGateway(LLMConfig(model="hf/some/folder", cache_dir=str(tmp_path)))
    assert gateway._response_format("hf/some/folder", {"type": "object"}, "answer") is None


# -- tool calls read from text --------------------------------------------------------------------


def test_tagged_blocks_are_calls_and_the_rest_is_text():
    text = (
        'I will check.\n<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": "{\\"y\\": \\"é\\"}"}</tool_call>'
    )
    assert read_tool_calls(text) == (
        "I will check.",
        [TextToolCall("a", '{"x": 1}'), TextToolCall("b", '{"y": "é"}')],
    )
    assert read_tool_calls('<tool_call>{"name": "c"}') == ("", [TextToolCall("c", "{}")])  # left open
    broken = '<tool_call>{"name": "d", </tool_call>'
    assert read_tool_calls(f'{broken}<tool_call>{{"name": "e", "parameters": {{}}}}</tool_call>') == (
        broken,
        [TextToolCall("e", "{}")],
    )


def test_bare_json_is_a_call_or_a_list_of_calls():
    bare = ' {"name": "a", "parameters": {"q": "x"}} '
    assert read_tool_calls(bare) == ("", [TextToolCall("a", '{"q": "x"}')])
    listed = '```json\n[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"k": [1]}}]\n```'
    assert read_tool_calls(listed) == ("", [TextToolCall("a", "{}"), TextToolCall("b", '{"k": [1]}')])


@pytest.mark.parametrize(
    "text",
    [
        "The weather in Oslo is mild.",
        "",
        '{"name": "Oslo", "population": 700000}',  # a JSON answer, not a call
        '[{"name": "a", "arguments": {}}, "junk"]',
        '{"name": "a", "arguments": [1, 2]}',
        '{"name": "", "arguments": {}}',
        "<tool_call>not json</tool_call>",
        'Call {"name": "a", "arguments": {}} now',
        "[]",
    ],
)
def test_junk_gives_no_calls(text: str):
    assert read_tool_calls(text) == (text, [])
