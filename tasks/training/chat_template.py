"""The chat template a `chat` fine-tune renders its rows with, and which it saves with the checkpoint.

Loss falls on the assistant's tokens only, which `apply_chat_template(..., return_assistant_tokens_mask=
True)` finds from the template's `{% generation %}` marks. In order of preference:
1. a template file the user gives (`--chat-template`);
2. the base's own, when it renders a tool-calling conversation (TRL's `supports_tool_calling`): as it
   is when it marks generation, else TRL's training variant of it (`get_training_chat_template`, for
   the templates TRL knows: Qwen, Llama 3, Gemma, Phi, ...);
3. the ChatML template shipped here (`templates/chatml_tools.jinja`), for a tokenizer with ChatML's
   `<|im_start|>` and `<|im_end|>` tokens whose template renders no tools (SmolLM2's).
Otherwise InputError: the base cannot be taught tools without a template that shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from schemas.errors import InputError

CHATML_TOOLS = Path(__file__).parent / "templates" / "chatml_tools.jinja"
CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")


class ChosenTemplate(NamedTuple):
    text: str
    source: str  # what the card says: "base", "base (TRL training variant)", the shipped file, a path


def training_template(tokenizer: Any, override: str | None = None) -> ChosenTemplate:
    """The template to train with (see the module's note); InputError when there is none."""
    from trl.chat_template_utils import (
        get_training_chat_template,
        has_generation_markers,
        supports_tool_calling,
    )

    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise InputError(f"--chat-template {override}: no such file")
        text = path.read_text(encoding="utf-8")
        if not has_generation_markers(text):
            raise InputError(
                f"--chat-template {override}: it has no {{% generation %}} marks, so the assistant's "
                "tokens cannot be told from the rest (see TRL's *_training.jinja templates)"
            )
        return ChosenTemplate(text, str(path.resolve()))
    own = tokenizer.chat_template
    if isinstance(own, dict):
        own = own.get("default")
    if own and supports_tool_calling(tokenizer):
        if has_generation_markers(own):
            return ChosenTemplate(own, "base")
        try:
            patched = get_training_chat_template(tokenizer)
        except ValueError:
            patched = None
        if patched:
            return ChosenTemplate(patched, "base (TRL's training variant)")
    vocab = tokenizer.get_vocab()
    if all(token in vocab for token in CHATML_TOKENS):
        return ChosenTemplate(CHATML_TOOLS.read_text(encoding="utf-8"), f"toolforge {CHATML_TOOLS.name}")
    raise InputError(
        "the base's chat template renders no tool calls (or marks no assistant turn) and its tokenizer "
        "has no ChatML tokens for the shipped template: give --chat-template FILE (a template with "
        "{% generation %} marks), or train --format react"
    )
