"""A Hugging Face model folder run in-process by transformers on the CPU, served to litellm as provider `hf`.

`hf/PATH` runs the model saved in the folder PATH (`config.json`, the safetensors weights and the
tokenizer's files: what `save_pretrained` and a fine-tuning run write), to evaluate a checkpoint
trained on the factory's exports. The prompt is the chat template's rendering of the messages when
the tokenizer has a template, else the messages' texts joined by newlines, given to the model as they
are (how TRL trains on a prompt-completion data set such as the `react` export). `hf/PATH#raw` gives
the raw text even to a model whose tokenizer has a template: a checkpoint of an instruct model
fine-tuned on the `react` export's prompt-completion text keeps its base's template, but was trained
on the raw text. A model has no
function-calling API: with `tools`, the calls are read from its text (`read_tool_calls`).

One model per folder per process, loaded on first use and used behind a lock. This module imports
neither torch nor transformers: they are imported when the first model loads (the `hf` extra).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import litellm
from litellm import CustomLLM
from litellm.types.utils import ChatCompletionMessageToolCall, Function

from agents.llm.config import HF_PROVIDER
from agents.llm.gguf import LocalModelError
from agents.llm.loop_guard import LoopGuard

INSTALL_HINT = "pip install -e '.[hf]' (transformers and torch)"
DEFAULT_TEMPERATURE = 0.3
DEFAULT_MAX_TOKENS = 1024


class HfModelError(LocalModelError):
    """A Hugging Face model folder cannot be found or loaded, or transformers and torch are missing."""


# -- tool calls written as text -------------------------------------------------------------------

_TAGGED = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCED = re.compile(r"\A```(?:json)?\s*(.*?)\s*```\Z", re.DOTALL)


@dataclass(frozen=True)
class TextToolCall:
    """One call read from a model's text: the function's name and its arguments as JSON text."""

    name: str
    arguments: str


def read_tool_calls(text: str) -> tuple[str, list[TextToolCall]]:
    """(the text left over, the calls) of a model's answer; pure text handling, no model.

    First every `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` block (the chat templates of
    Hermes, Qwen, SmolLM3; the last block may be left open, as an answer cut at a stop string leaves
    it); a block that holds no such call stays in the text. Failing that, a text that is wholly one
    JSON object `{"name", "arguments"|"parameters"}`, or a JSON list of them (in a Markdown code fence
    or not), is the calls, and no text is left over. Otherwise no calls, and the text as it was.
    """
    calls: list[TextToolCall] = []

    def take(block: re.Match[str]) -> str:
        call = _call(_json(block.group(1)), bare=False)
        if call is None:
            return block.group(0)
        calls.append(call)
        return ""

    rest = _TAGGED.sub(take, text)
    if calls:
        return rest.strip(), calls
    whole = _json(text)
    items = whole if isinstance(whole, list) else [whole]
    listed = [call for item in items if (call := _call(item, bare=True)) is not None]
    if listed and len(listed) == len(items):
        return "", listed
    return text, []


def _json(text: str) -> Any:
    """The JSON value `text` wholly is (in a Markdown code fence or not), else None."""
    text = text.strip()
    if fenced := _FENCED.match(text):
        text = fenced.group(1)
    try:
        return json.loads(text)
    except ValueError:
        return None


def _call(value: Any, *, bare: bool) -> TextToolCall | None:
    """The call `value` spells, or None: a `name`, and `arguments` or `parameters` as an object or as
    JSON text. A bare JSON answer must name its arguments (else any object with a `name` would do)."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"].strip():
        return None
    if bare and "arguments" not in value and "parameters" not in value:
        return None
    arguments = value.get("arguments", value.get("parameters"))
    if arguments is None:
        arguments = {}
    if isinstance(arguments, dict):
        arguments = json.dumps(arguments, ensure_ascii=False)
    if not isinstance(arguments, str):
        return None
    return TextToolCall(name=value["name"].strip(), arguments=arguments)


# -- the model folder -----------------------------------------------------------------------------


RAW = "#raw"
"""The suffix of a model string whose prompt is the raw text, whatever the tokenizer's template."""


def model_folder(name: str) -> Path:
    """The folder of `hf/<name>` (`#raw` left off), checked to look like a saved model; HfModelError
    if it does not."""
    path = Path(name.removesuffix(RAW)).expanduser().resolve()
    if not path.exists():
        raise HfModelError(
            f"Hugging Face model folder not found: {path} "
            "(the model string is hf/<folder>, a folder written by save_pretrained)"
        )
    if not path.is_dir() or not (path / "config.json").is_file():
        raise HfModelError(
            f"{path} is not a Hugging Face model folder: it has no config.json "
            "(save the model and its tokenizer there with save_pretrained)"
        )
    return path


def hf_model_problem(name: str) -> str | None:
    """Why `hf/<name>` cannot run here (no such model folder, no transformers or torch), or None;
    loads nothing."""
    try:
        model_folder(name)
    except HfModelError as exc:
        return str(exc)
    missing = [module for module in ("transformers", "torch") if importlib.util.find_spec(module) is None]
    if missing:
        return f"the hf provider needs {' and '.join(missing)}: {INSTALL_HINT}"
    return None


@dataclass
class _Loaded:
    """A folder's tokenizer and model, and the lock its calls take turns under."""

    tokenizer: Any
    model: Any
    lock: threading.Lock


_models: dict[Path, _Loaded] = {}
_models_lock = threading.Lock()


def load(name: str) -> _Loaded:
    """The tokenizer and model of the folder `name`, loaded once per process."""
    path = model_folder(name)
    with _models_lock:
        if path not in _models:
            _models[path] = _load_folder(path)
        return _models[path]


def _load_folder(path: Path) -> _Loaded:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise HfModelError(f"the hf provider needs transformers and torch: {INSTALL_HINT}") from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise HfModelError(f"cannot load the model in {path}: {exc}") from exc
    if model.dtype in (torch.float16, torch.bfloat16):
        model = model.to(torch.float32)  # half precision is slow, or missing, on many CPUs
    model.eval()
    return _Loaded(tokenizer=tokenizer, model=model, lock=threading.Lock())


# -- generation -----------------------------------------------------------------------------------


def _text(content: Any) -> str:
    """A message's content as text: a string as it is, the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def prompt_text(
    tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, raw: bool = False
) -> str:
    """The text the model continues: the chat template's rendering, or (no template, or `raw`) the
    messages' texts joined by newlines, unchanged."""
    if getattr(tokenizer, "chat_template", None) and not raw:
        return tokenizer.apply_chat_template(
            messages, tools=tools or None, add_generation_prompt=True, tokenize=False
        )
    return "\n".join(_text(message.get("content")) for message in messages)


@dataclass(frozen=True)
class Generated:
    """A generation: the new text (cut before the first stop string), why it ended, its token counts."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    stopped: str = ""
    """Why generation was stopped early (`LoopGuard.reason`), if it was."""


def generate(
    loaded: _Loaded,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None,
    max_tokens: int,
    temperature: float,
    seed: int,
    stop: list[str],
    raw: bool = False,
) -> Generated:
    """The model's continuation of the messages' prompt (`prompt_text`): greedy at temperature 0,
    else sampled from `seed`; up to `max_tokens` new tokens, an end-of-sequence token or a stop string.

    A templated prompt holds its special tokens already; a raw one is tokenized as a trainer tokenizes
    it (with the tokenizer's own BOS, if it adds one). All of it under the model's lock: neither the
    model nor its tokenizer is meant to serve two threads at once.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    tokenizer, model = loaded.tokenizer, loaded.model
    with loaded.lock, torch.inference_mode():
        templated = bool(getattr(tokenizer, "chat_template", None)) and not raw
        prompt = prompt_text(tokenizer, messages, tools, raw)
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=not templated)
        start = inputs["input_ids"].shape[1]

        class StopStrings(StoppingCriteria):
            """Ends generation once the new text holds a stop string."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                text = tokenizer.decode(input_ids[0, start:], skip_special_tokens=True)
                done = any(s in text for s in stop)
                return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

        guard = LoopGuard()

        class StopLoop(StoppingCriteria):
            """Ends generation caught in a loop (`agents.llm.loop_guard`)."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                done = guard(input_ids[0, -(guard.window + guard.max_period) :].tolist())
                return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

        config = _generation_config(loaded, max_tokens, temperature)
        torch.manual_seed(seed)
        output = model.generate(
            **inputs,
            generation_config=config,
            stopping_criteria=StoppingCriteriaList([*([StopStrings()] if stop else []), StopLoop()]),
        )
        new = output[0, start:].tolist()
        text = tokenizer.decode(new, skip_special_tokens=True)
    cuts = [text.find(s) for s in stop if s in text]
    eos = config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    if cuts:
        text, finish_reason = text[: min(cuts)], "stop"
    elif guard.period is not None:
        finish_reason = "length"
    elif len(new) < max_tokens or (new and new[-1] in eos_ids):
        finish_reason = "stop"
    else:
        finish_reason = "length"
    return Generated(text, finish_reason, start, len(new), stopped=guard.reason())


def _generation_config(loaded: _Loaded, max_tokens: int, temperature: float) -> Any:
    """The model's own generation settings, with this call's limit and temperature (greedy at 0), and
    end and padding tokens taken from the tokenizer where the model names none."""
    config = copy.deepcopy(loaded.model.generation_config)
    config.max_new_tokens = max_tokens
    config.do_sample = temperature > 0
    if config.do_sample:
        config.temperature = temperature
    else:
        config.temperature, config.top_p, config.top_k = None, None, None
    if config.eos_token_id is None:
        config.eos_token_id = loaded.tokenizer.eos_token_id
    if config.pad_token_id is None:
        pad = loaded.tokenizer.pad_token_id
        config.pad_token_id = pad if pad is not None else config.eos_token_id
    return config


def _stops(stop: Any) -> list[str]:
    """litellm's `stop` (a string, a list of them, or None) as a list of non-empty strings."""
    if stop is None:
        return []
    return [s for s in ([stop] if isinstance(stop, str) else stop) if s]


class HfProvider(CustomLLM):
    """litellm custom provider answering chat completions with a transformers model in this process."""

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        params: dict[str, Any] = kwargs.get("optional_params") or {}
        model_response: litellm.ModelResponse = kwargs["model_response"]
        try:
            loaded = load(model)
        except HfModelError as exc:
            # A mistake in the model string or the install: litellm passes its own errors on as they
            # are, and the gateway does not retry a BadRequestError (another try would fail the same).
            raise litellm.BadRequestError(
                message=str(exc), model=f"{HF_PROVIDER}/{model}", llm_provider=HF_PROVIDER
            ) from exc
        tools = params.get("tools") or None
        temperature = params.get("temperature")
        seed = params.get("seed")
        out = generate(
            loaded,
            messages,
            tools=tools,
            max_tokens=int(params.get("max_tokens") or DEFAULT_MAX_TOKENS),
            temperature=float(DEFAULT_TEMPERATURE if temperature is None else temperature),
            seed=int(seed or 0),
            stop=_stops(params.get("stop")),
            raw=model.endswith(RAW),
        )
        content, calls = read_tool_calls(out.text) if tools else (out.text, [])
        message = model_response.choices[0].message  # type: ignore[union-attr]
        message.content = content
        model_response.choices[0].finish_reason = out.finish_reason
        if out.stopped:
            message.provider_specific_fields = {"stopped": out.stopped}
        if calls:
            message.tool_calls = [
                ChatCompletionMessageToolCall(
                    id=f"call_{number}",
                    type="function",
                    function=Function(name=call.name, arguments=call.arguments),
                )
                for number, call in enumerate(calls, start=1)
            ]
            model_response.choices[0].finish_reason = "tool_calls"
        model_response.usage = litellm.Usage(  # type: ignore[attr-defined]
            prompt_tokens=out.prompt_tokens,
            completion_tokens=out.completion_tokens,
            total_tokens=out.prompt_tokens + out.completion_tokens,
        )
        model_response.model = f"{HF_PROVIDER}/{model}"
        model_response.created = int(time.time())
        return model_response


def register() -> None:
    """Add the `hf` provider to litellm once, keeping any providers the user registered."""
    current = list(getattr(litellm, "custom_provider_map", None) or [])
    if not any(entry.get("provider") == HF_PROVIDER for entry in current):
        current.append({"provider": HF_PROVIDER, "custom_handler": HfProvider()})
        litellm.custom_provider_map = current
