"""The run's Prefect report in Markdown (`flows/report.py`): what adaptive limiting did per model."""

from __future__ import annotations

from datetime import UTC, datetime

from flows.report import concurrency_markdown
from schemas.limits import ConcurrencyChange


def test_the_prefect_report_tells_each_models_adaptive_limit():
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    history = [
        ConcurrencyChange(at=start, model="a", limit=12, ceiling=16),
        ConcurrencyChange(at=start, model="b", limit=6, ceiling=8),
        ConcurrencyChange(at=start, model="a", limit=9, ceiling=16),
        ConcurrencyChange(at=start, model="a", limit=10, ceiling=16),
    ]
    lines = concurrency_markdown(history).splitlines()
    assert lines[0] == "## Calls in flight (adaptive limit)"
    assert lines[4:] == ["| a | 3 | 9 | 10 | 16 |", "| b | 1 | 6 | 6 | 8 |"]

    on_workers = [change.model_copy(update={"worker": f"tcp://w{n % 2}"}) for n, change in enumerate(history)]
    assert concurrency_markdown(on_workers).splitlines()[4:] == [
        "| a (tcp://w0) | 2 | 9 | 9 | 16 |",
        "| b (tcp://w1) | 1 | 6 | 6 | 8 |",
        "| a (tcp://w1) | 1 | 10 | 10 | 16 |",
    ]
