"""The options reference, `docs/options.md`, generated from the settings models that define every
option: `python -m flows.options_reference` prints it, `--write` writes it (a test fails when the
committed file differs from what the models give now)."""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from pathlib import Path

from flows.options import REQUIRED, CommandLine, Flag

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "options.md"
COMMANDS = (
    ("flows.cli", "CORPUS"),
    ("flows.cli", "POOL"),
    ("flows.export", "COMMAND"),
    ("flows.evaluate", "COMMAND"),
    ("flows.train", "COMMAND"),
    ("flows.audit", "COMMAND"),
    ("flows.report", "COMMAND"),
)
"""Every entry point's command line, in the reference's order (module, name)."""

HEADER = """\
# Options

Every option of ToolForge's commands: its value, its default and what it does. Each is a field of a
settings model (`flows/config.py`, `agents/llm/config.py`, and the models each command names), and
each command's flags are made from those fields by `flows/options.py`; this page is generated from
them by `python -m flows.options_reference --write`, and a test fails when it is out of date.
`python -m deployments serve|deploy` takes the options of `python -m flows.corpus`, as the default
parameters of its deployments.
"""


def commands() -> list[CommandLine]:
    return [getattr(import_module(module), name) for module, name in COMMANDS]


def _text(text: str) -> str:
    """Markdown text of a table cell (no tags read into `<run folder>`)."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def _row(item: Flag) -> str:
    shown = item.shown
    if not item.option.positional and item.annotation is not bool and item.choices is None:
        shown += f" {item.metavar}"
    default = item.default_text()
    cells = [
        _code(shown),
        _text(item.form()),
        "required" if item.default is REQUIRED else _code(default) if default else "-",
        _text(item.field.description or ""),
    ]
    return "| " + " | ".join(cells) + " |"


def section(command: CommandLine) -> list[str]:
    """The command's options as tables, one per group of its help (ungrouped options first)."""
    flags = [item for options in command.options for item in options.options]
    groups = list(dict.fromkeys(item.group for item in flags))
    lines = [f"## `{command.prog}`", "", _text(command.description), ""]
    for group in sorted(groups, key=lambda g: g is not None):
        if group is not None:
            lines += [f"**{group}**", ""]
        lines += ["| option | value | default | description |", "|---|---|---|---|"]
        lines += [_row(item) for item in flags if item.group == group]
        lines.append("")
    return lines


def reference() -> str:
    lines = [HEADER]
    for command in commands():
        lines += section(command)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.options_reference", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {REFERENCE.name} instead of printing it")
    args = parser.parse_args(argv)
    text = reference()
    if args.write:
        REFERENCE.write_text(text, encoding="utf-8")
        print(REFERENCE)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
