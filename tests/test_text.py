"""The one way a message, a reason or a report cuts a text short (`schemas/text.py`)."""

from __future__ import annotations

import pytest

from schemas.text import clipped


@pytest.mark.parametrize(
    ("text", "limit", "options", "expected"),
    [
        ("short", 5, {}, "short"),
        ("a longer text", 8, {}, "a longe…"),
        ("cut at a space here", 8, {}, "cut at…"),
        ("line one\n  line two", 40, {"one_line": True}, "line one line two"),
        ("line one\nline two", 12, {"one_line": True}, "line one li…"),
        ("x" * 20, 10, {"counted": True}, "x" * 9 + "… (20 characters)"),
        ("x" * 10, 10, {"counted": True}, "x" * 10),
    ],
)
def test_clipped(text, limit, options, expected):
    assert clipped(text, limit, **options) == expected
