"""The train/eval split of a run's tools: whole tools (or whole categories) held out, reproducibly.

Each unit (a tool id, or a category) is ranked by the sha256 of `<seed>:<unit>`, so the same units
and seed give the same split on any machine, whatever order the tools come in. The first units of
the ranking are held out while that brings the held-out tools nearer to `eval_fraction` of all
tools (at least one unit when the fraction is above 0 and there are two units or more; never every
unit when it is below 1).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from schemas.errors import InputError
from schemas.export import Split, SplitUnit


def rank(seed: int, unit: str) -> str:
    return hashlib.sha256(f"{seed}:{unit}".encode()).hexdigest()


def split_tools(
    tools: Iterable[tuple[str, str]], eval_fraction: float, seed: int, unit: SplitUnit = "tool"
) -> Split:
    """The split of `tools`, given as (tool id, category) pairs."""
    if not 0.0 <= eval_fraction <= 1.0:
        raise InputError(f"--eval-fraction must be between 0 and 1, not {eval_fraction}")
    members: defaultdict[str, list[str]] = defaultdict(list)
    for tool_id, category in tools:
        members[tool_id if unit == "tool" else category].append(tool_id)
    units = sorted(members, key=lambda u: rank(seed, u))
    wanted = eval_fraction * sum(len(ids) for ids in members.values())
    held, count = 0, 0
    while held < len(units) and count + len(members[units[held]]) / 2 < wanted:
        count += len(members[units[held]])  # a unit is held out while that brings the count nearer
        held += 1
    fewest = 1 if eval_fraction > 0 and len(units) >= 2 else 0
    most = len(units) if eval_fraction == 1 else max(len(units) - 1, 0)
    held_out = set(units[: min(max(held, fewest), most)])
    eval_tools = sorted(t for u in held_out for t in members[u])
    train_tools = sorted(t for u in units if u not in held_out for t in members[u])
    return Split(
        eval_fraction=eval_fraction,
        seed=seed,
        unit=unit,
        train_tools=train_tools,
        eval_tools=eval_tools,
        eval_categories=sorted(held_out) if unit == "category" else [],
    )
