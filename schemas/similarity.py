"""Word-set similarity of short texts: what 'near-duplicate' means wherever ToolForge drops repeats
(a user agent's batch of requests, a corpus, a seed list)."""

from __future__ import annotations

import re
from collections.abc import Set

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> set[str]:
    """The distinct words of `text`: lowercase runs of ASCII letters and digits (punctuation, spacing
    and case are set aside; other characters separate words)."""
    return set(_WORD.findall(text.lower()))


def jaccard(a: Set[str], b: Set[str]) -> float:
    """The Jaccard similarity of two sets: shared items over all items (0.0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """True when the two texts share at least `threshold` of their words (Jaccard of `words`); a text
    with no words is a near-duplicate of nothing."""
    wa, wb = words(a), words(b)
    return bool(wa and wb) and jaccard(wa, wb) >= threshold
