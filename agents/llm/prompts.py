"""Prompt templates: text files beside the agent that uses them, versioned by their content.

A template file has a `[system]` section and a `[user]` section; `$name` placeholders are filled
with `string.Template`, so JSON braces in the text need no escaping. The version (a hash of the
file) is part of every LLM cache key: editing a prompt invalidates exactly the answers it produced.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

_SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    """A system and a user message with `$placeholders`."""

    name: str
    system: str
    user: str
    version: str

    @classmethod
    def parse(cls, name: str, text: str) -> PromptTemplate:
        parts = _SECTION.split(text)
        sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
        if set(sections) != {"system", "user"}:
            raise ValueError(f"prompt {name!r} needs exactly one [system] and one [user] section")
        return cls(name=name, system=sections["system"], user=sections["user"], version=text_version(text))

    @property
    def key(self) -> str:
        """`name@version`, as recorded in cache keys."""
        return f"{self.name}@{self.version}"

    def render(self, **values: object) -> list[dict[str, str]]:
        """Chat messages with every placeholder filled; a missing value is an error."""
        strings = {k: str(v) for k, v in values.items()}
        try:
            return [
                {"role": "system", "content": Template(self.system).substitute(strings)},
                {"role": "user", "content": Template(self.user).substitute(strings)},
            ]
        except KeyError as exc:
            raise KeyError(f"prompt {self.name!r} needs a value for {exc.args[0]!r}") from None


def text_version(text: str) -> str:
    """A prompt file's version: the first 12 hex digits of its text's sha256."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@cache
def load_prompt(path: Path) -> PromptTemplate:
    """Read a template file once per process."""
    return PromptTemplate.parse(path.stem, path.read_text(encoding="utf-8"))


@cache
def load_lines(path: Path) -> dict[str, str]:
    """A file of `<key>: <text>` lines (`#` comments and blank lines skipped), by key: the pieces a
    template's placeholder is filled with. The text keeps any space after the `: `."""
    lines: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, text = line.split(": ", 1)
            lines[key] = text
    return lines


AGENTS = Path(__file__).resolve().parents[1]


def prompt_versions() -> dict[str, str]:
    """Every prompt file of the agents (templates and the fragments they include), `<agent>/<name>` ->
    its version, the hash `PromptTemplate.version` takes: what a run records of its prompts."""
    return {
        f"{path.parent.parent.name}/{path.stem}": text_version(path.read_text(encoding="utf-8"))
        for path in sorted(AGENTS.glob("*/prompts/*.txt"))
    }
