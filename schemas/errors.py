"""Errors a user can fix: bad input, a broken model configuration, an unusable spec.

The command line prints such an error as one line (`error: ...`) and exits with status 2, never with a
traceback: its message names the record (file and line, role and model) and says what to do.
Anything else that escapes a run is a bug, and keeps its traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """A problem with what the user gave the factory; the message is complete and fit for a terminal."""


class SeedListError(InputError):
    """The seed list cannot be used at all: missing, unreadable, in an unknown encoding, or empty."""


class RunStopped(RuntimeError):
    """A run that stopped before its end because a model kept failing the same way. What it finished
    is written to its run folder, whose manifest says `failed` and why; the message says so."""


class BudgetSpent(RuntimeError):
    """A run that stopped taking work at its budget (`--max-cost`, `--max-calls`): what it finished is
    written to its run folder, whose manifest says `stopped`, why, and what it spent; `--resume` with a
    higher budget carries on. The message says so."""
