"""Text cut short where a message, a reason or a report quotes it."""

from __future__ import annotations

ELLIPSIS = "…"


def clipped(text: str, limit: int, *, one_line: bool = False, counted: bool = False) -> str:
    """`text` when it has at most `limit` characters, else its first `limit - 1` and `…` (`limit` in
    all). With `one_line`, its runs of whitespace (line breaks included) become single spaces first;
    with `counted`, a cut also says how long the text was (`… (1234 characters)`)."""
    if one_line:
        text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS + (f" ({len(text)} characters)" if counted else "")
