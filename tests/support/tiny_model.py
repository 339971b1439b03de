"""A tiny random Llama and a character-level tokenizer, made and saved by a test (no hub download):
what tests of the `hf` provider and of training check is the plumbing, not the text."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

CHATML = ["<|im_start|>", "<|im_end|>"]
"""Special tokens of ChatML, for a tokenizer the shipped training template can render with."""


def save_tiny_model(
    folder: Path, chat_template: str | None, specials: list[str] | None = None, positions: int = 1024
) -> None:
    """A one-layer random Llama and a character-level tokenizer (printable ASCII, and `specials` as
    single special tokens), saved in `folder`."""
    torch = pytest.importorskip("torch")
    from tokenizers import Tokenizer, decoders, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    base = ["<unk>", "<s>", "</s>", "<pad>"]
    vocab = {token: number for number, token in enumerate([*base, *string.printable])}
    raw = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    raw.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        clean_up_tokenization_spaces=False,
    )
    if specials:
        tokenizer.add_special_tokens({"additional_special_tokens": specials})
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=positions,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
