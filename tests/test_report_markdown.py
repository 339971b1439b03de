"""The run's Prefect report in Markdown (`flows/report.py`): what adaptive limiting did per model, and
the run beside its forecast."""

from __future__ import annotations

from datetime import UTC, datetime

from flows.report import concurrency_markdown, forecast_check_markdown
from schemas.forecast_check import Estimate, ForecastCheck, ForecastFigure
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


def test_the_prefect_report_sets_the_run_beside_its_forecast():
    figure = ForecastFigure(
        name="USD", forecast=Estimate(value=6.0, low=5.5, high=6.5), actual=6.2, within=True
    )
    check = ForecastCheck(created_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC), level=0.9, figures=[figure])
    lines = forecast_check_markdown(check).splitlines()
    assert lines[0] == "## Beside its forecast (90% intervals, made 2026-12-07 09:30 UTC)"
    assert lines[2:] == [
        "| figure | forecast | interval | actual | within |",
        "|---|---|---|---|---|",
        "| USD | 6.0000 | 5.5000-6.5000 | 6.2000 | yes |",
    ]
