"""`Option`: how a settings field is offered on a command line, where its name and type do not say
enough. It goes in the field's `Annotated` metadata, beside pydantic's `Field`:

    seed: Annotated[int, Option(flag="llm-seed")] = Field(default=0, description="Sampling seed.")

and is read by `flows/options.py`, which makes every entry point's flags from the settings models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Option:
    """Command-line metadata of one field; every attribute is optional.

    flag: the flag's name without `--`, when it is not the field's (`timeout` for `timeout_s`).
        Two fields of one command share a flag only when both name it here.
    metavar: the value's name in the help (`ROLE=MODEL`).
    group: the help's group of the flag; on a nested model's field, of all its flags.
    repeat: a list or dict given by repeating the flag (`--domain A --domain B`), not comma-separated.
    positional: an argument without a flag (`RUN`).
    cli: False for a setting no command line offers (a deployment or the code sets it).
    default_text: the default as the help states it, where the value depends on the machine.
    only: on a nested model's field, the fields of that model offered here (default: all).
    flags: on a nested model's field, flag names of its fields here, by field (dotted for deeper).
    """

    flag: str | None = None
    metavar: str | None = None
    group: str | None = None
    repeat: bool = False
    positional: bool = False
    cli: bool = True
    default_text: str | None = None
    only: tuple[str, ...] | None = None
    flags: Mapping[str, str] = field(default_factory=dict)
