"""The HTML report of a real run in a real browser: headless Chromium (Debian's, driven by Playwright)
opens the fake run's report from a file:// URL and checks the figures it shows, the search, the
filters and the dialogue view, and that the page asks for nothing outside the file.

Without chromium the test fails (it does not skip) unless TOOLFORGE_SKIP_BROWSER=1 is set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from schemas.dialog import Dialog
from schemas.statistics import CorpusStatistics
from storage.run_store import RunStore
from tasks.html_report import render_report
from tasks.statistics import TABLE_1, USAGE, corpus_statistics, figure

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("TOOLFORGE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright; never `playwright install`)"
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM}: install Debian's chromium (`apt-get install chromium`)"
    return None


@pytest.fixture(scope="session")
def browser_found() -> None:
    """Fails (skips with TOOLFORGE_SKIP_BROWSER=1) when there is no browser, before the fake run is made."""
    missing = browser_missing()
    if missing and os.environ.get("TOOLFORGE_SKIP_BROWSER") == "1":
        pytest.skip(f"{missing}; TOOLFORGE_SKIP_BROWSER=1")
    if missing:
        pytest.fail(f"{missing}, or set TOOLFORGE_SKIP_BROWSER=1 to skip the browser test", pytrace=False)


@pytest.fixture
def chromium(browser_found, fake_run):
    """Headless chromium, started after the fake run (Playwright's event loop would turn the Prefect
    flow's results into coroutines) and closed after the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def expected(stats: CorpusStatistics, key: str) -> str:
    """The figure a `data-stat` key names, written as the report writes it."""
    field, _, rest = key.partition(".")
    if field == "dialog_types":
        return figure(rest, stats.dialog_types[rest])
    if field == "rejections":
        step, rule = rest.split(".", 1)
        (count,) = [r.count for r in stats.rejections if (r.step, r.rule) == (step, rule)]
        return figure("count", count)
    return figure(field, getattr(stats, field))


def search_text(dialog: Dialog) -> str:
    return " ".join(
        [dialog.dialog_id, dialog.instruction, dialog.tool_id, *dialog.tool_ids, *dialog.functions_used]
    )


def test_the_report_of_a_run_in_a_browser(chromium, fake_run, tmp_path: Path):
    store = RunStore(str(fake_run.out))
    stats = store.read_manifest(fake_run.run_id).statistics or corpus_statistics(store, fake_run.run_id)
    report = tmp_path / "report.html"
    report.write_text(render_report(store, fake_run.run_id, stats), encoding="utf-8")
    accepted = store.read_records(fake_run.run_id, "dialogs", Dialog)
    everything = accepted + store.read_records(fake_run.run_id, "rejected_dialogs", Dialog)

    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    shown = lambda: int(page.locator("#shown-count").inner_text())  # noqa: E731
    visible = lambda: page.locator(".dialog-row:visible").count()  # noqa: E731

    cells = page.locator("[data-stat]").evaluate_all(
        "cells => cells.map(c => [c.dataset.stat, c.textContent])"
    )
    assert {name for name, _ in TABLE_1 + USAGE} <= {key for key, _ in cells}
    assert {f"dialog_types.{kind}" for kind in stats.dialog_types} <= {key for key, _ in cells}
    assert [[key, expected(stats, key)] for key, _ in cells] == cells
    assert page.locator("figure svg").count() >= 4

    assert shown() == visible() == len(everything) == stats.instances + stats.rejected_instances
    term = accepted[0].functions_used[0] if accepted[0].functions_used else accepted[0].tool_id
    page.fill("#search", term)
    matching = sum(term.lower() in search_text(d).lower() for d in everything)
    assert shown() == visible() == matching < len(everything)
    page.fill("#search", "")
    page.select_option("#filter-status", "accepted")
    assert shown() == visible() == stats.instances
    kind = max(stats.dialog_types, key=lambda k: stats.dialog_types[k])
    page.select_option("#filter-type", kind)
    assert shown() == visible() == stats.dialog_types[kind]
    category = next(iter(stats.tools_per_category))
    page.select_option("#filter-category", category)
    assert 0 < shown() == visible() <= stats.dialog_types[kind]
    for select in ("#filter-status", "#filter-type", "#filter-category"):
        page.select_option(select, "")
    assert shown() == len(everything)

    called = next(d for d in accepted if d.calls)
    page.click(f'.dialog-row[data-id="{called.dialog_id}"]')
    view = page.locator("#dialog-view")
    assert view.locator(".msg.user").first.inner_text().endswith(called.instruction)
    assert view.locator(".msg.call .fn").first.inner_text() == called.functions_used[0]
    assert view.locator(".msg.tool").count() == called.calls
    assert view.locator(".rejection").count() == 0
    page.screenshot(path=tmp_path / "dialog.png")
    rejected = next(d for d in everything if d.status == "rejected")
    page.click(f'.dialog-row[data-id="{rejected.dialog_id}"]')
    assert view.locator(".rejection code").inner_text() == rejected.rejection_rule
    assert rejected.rejection_reason in view.locator(".rejection").inner_text()

    page.screenshot(path=tmp_path / "report.png", full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert errors == []
    assert requests and all(url.startswith(("file://", "data:")) for url in requests), requests
