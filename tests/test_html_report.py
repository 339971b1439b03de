"""The run's HTML report (`tasks/html_report.py`), without a browser: one self-contained page with
the statistics, inline SVG charts and the dialogues as JSON, capped and escaped."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.dialog import Dialog, Message
from schemas.forecast_check import Estimate, ForecastCheck, ForecastFigure
from schemas.limits import ConcurrencyChange
from schemas.manifest import LLMUsage, Manifest, UsageRow
from schemas.statistics import STEP_BINS, WORD_BINS, CorpusStatistics, Histogram, RejectionCount
from schemas.tool import Tool
from storage.run_store import RunStore
from tasks import html_report
from tasks.html_report import concurrency_svg, inline_svg, natural, render_report, top
from tasks.statistics import figure
from tests.support.records import make_dialog

ROOT = Path(__file__).resolve().parents[1]
NASTY = "</script><b>bold</b> <!-- & -->"


def statistics(**changes: object) -> CorpusStatistics:
    """Figures for a run of 2 accepted and 1 rejected dialogue (by hand: they need not be counted)."""
    figures: dict[str, object] = {
        "categories": 1,
        "tools": 1,
        "tools_with_dialogs": 1,
        "instances": 2,
        "rejected_instances": 1,
        "single_call": 1,
        "multiple_calls": 1,
        "no_call": 0,
        "avg_functions_per_tool": 2.0,
        "avg_steps": 1.5,
        "avg_request_words": 3.25,
        "avg_answer_words": 2.0,
        "dialog_types": {"single": 1, "multi_turn": 1},
        "tools_per_category": {"Maps": 1},
        "rejections": [RejectionCount(step="judge", rule="hallucination", count=1)],
        "request_words": Histogram.of([3, 4], WORD_BINS),
        "answer_words": Histogram.of([2, 2], WORD_BINS),
        "steps": Histogram.of([1, 2], STEP_BINS),
        "llm_calls": 1234,
        "llm_cache_hits": 34,
        "prompt_tokens": 56789,
        "completion_tokens": 987,
        "cost_usd": 0.01234,
    }
    return CorpusStatistics.model_validate({**figures, **changes})


def publish(store: RunStore) -> str:
    """A run with one tool, accepted dialogues `things-10` and `things-9` (in that order, across two
    parts) and one rejected dialogue whose request holds `NASTY`."""
    writer = store.start_run()
    tool = Tool(
        tool_id="things",
        name="Things",
        category="Maps",
        description="d",
        link="https://things.example.org",
        auth="",
        introduction="",
        functions=[],
        openapi="{}",
        nl_documentation="",
        routes=[],
        model="m",
    )
    writer.write_records("tools", Tool, [tool])
    parts = writer.parts("dialogs", Dialog, rows=1)
    parts.add([make_dialog("things-10", "find the tenth thing", "here", calls=2)])
    parts.add([make_dialog("things-9", "find thing nine", "here it is", calls=1, kind="multi_turn")])
    rejected = make_dialog("things-1", f"find {NASTY}", "done", calls=1)
    rejected.messages.insert(1, Message(role="assistant", content="Which one?", clarification=True))
    rejected = rejected.rejected("judge", "hallucination", "made <it> up")
    writer.write_records("rejected_dialogs", Dialog, [rejected])
    config = {"llm": {"model": "openai/big", "role_models": {"judge": "openai/judge"}}}
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    writer.write_manifest(
        Manifest(
            run_id=writer.run_id,
            started_at=started,
            finished_at=started.replace(minute=6, second=10),
            status="completed",
            code_version="abc123",
            config=config,
        )
    )
    writer.publish()
    return writer.run_id


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunStore, str]:
    store = RunStore(str(tmp_path_factory.mktemp("html-report")))
    return store, publish(store)


@pytest.fixture(scope="module")
def page(run: tuple[RunStore, str]) -> str:
    return render_report(*run, statistics())


@pytest.fixture
def no_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Charts left out (drawing them is most of a render's time), for tests of the rest."""
    monkeypatch.setattr(html_report, "charts", lambda stats: {})


def data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="dialogs-data">(.*?)</script>', html, re.S)
    assert found, "no dialogs-data block"
    return json.loads(found.group(1))


def without_data(html: str) -> str:
    return re.sub(r'(id="dialogs-data">).*?(</script>)', r"\1\2", html, flags=re.S)


def test_the_page_loads_nothing_from_outside(page):
    rest = without_data(page)
    assert "http://" not in rest and "https://" not in rest
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=|<link\b|@import|url\((?!#)", rest)
    assert page.count("<script") == 2 and page.count("<style") == 1


def test_the_header_names_the_run_its_times_models_and_code_version(run, page):
    _, run_id = run
    for text in (run_id, "completed", "2026-01-02 03:04:05 UTC", "2 min 5 s", "openai/big", "openai/judge"):
        assert text in page
    assert "(judge)" in page and "abc123" in page


def test_the_charts_are_inline_svg_with_ids_of_their_own(page):
    svgs = re.findall(r"<svg\b.*?</svg>", page, re.S)
    assert len(svgs) == 5
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page and "<metadata" not in page
    ids = re.findall(r'\bid="([^"]+)"', "".join(svgs))
    assert len(ids) == len(set(ids)), "two charts share an id"
    for svg in svgs:
        referenced = set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', svg))
        defined = set(re.findall(r'\bid="([^"]+)"', svg))
        assert {a or b for a, b in referenced} <= defined


def test_every_figure_cell_shows_its_statistic(page):
    stats = statistics()
    cells = dict(re.findall(r'data-stat="([^"]+)">([^<]*)<', page))
    assert cells["categories"] == "1" and cells["llm_calls"] == "1,234" and cells["prompt_tokens"] == "56,789"
    assert cells["avg_request_words"] == "3.25" and cells["cost_usd"] == "$0.0123"
    assert cells["dialog_types.multi_turn"] == "1" and cells["rejections.judge.hallucination"] == "1"
    for name in ("instances", "single_call", "multiple_calls", "no_call", "avg_steps", "avg_answer_words"):
        assert cells[name] == figure(name, getattr(stats, name))


def test_figures_are_written_one_way():
    assert [figure("n", 1234567), figure("avg", 2.0), figure("cost_usd", 0.5)] == [
        "1,234,567",
        "2.00",
        "$0.5000",
    ]
    assert sorted(["t-10", "t-9", "t-1", "s-2"], key=natural) == ["s-2", "t-1", "t-9", "t-10"]


def test_the_dialogues_are_embedded_accepted_first_by_id(page):
    embedded = data(page)
    assert embedded["total"] == 3
    assert [(d["id"], d["status"]) for d in embedded["dialogs"]] == [
        ("things-9", "accepted"),
        ("things-10", "accepted"),
        ("things-1", "rejected"),
    ]
    first = embedded["dialogs"][0]
    assert (
        first["category"] == "Maps" and first["type"] == "multi_turn" and first["functions"] == ["getThing"]
    )
    assert first["messages"][1]["tool_calls"][0]["name"] == "getThing"
    assert "All 3 dialogues" in page


def test_the_cap_keeps_the_first_and_says_so(run, no_charts):
    for cap, ids in ((2, ["things-9", "things-10"]), (1, ["things-9"]), (0, [])):
        html = render_report(*run, statistics(), max_dialogs=cap)
        assert [d["id"] for d in data(html)["dialogs"]] == ids
        assert f"Showing {cap} of 3 dialogues" in html


def test_a_dialogue_cannot_break_out_of_the_page(page):
    assert "<b>bold</b>" not in page and "<!--" not in page.split("<body>", 1)[1]
    assert page.count("</script>") == 2
    rejected = data(page)["dialogs"][-1]
    assert rejected["request"] == f"find {NASTY}"
    assert rejected["rule"] == "hallucination" and rejected["reason"] == "made <it> up"
    assert rejected["messages"][1] == {"role": "assistant", "content": "Which one?", "clarification": True}


def test_text_in_the_page_is_escaped(run, no_charts):
    stats = statistics(rejections=[RejectionCount(step="judge", rule="<i>odd</i>", count=2)])
    html = render_report(*run, stats)
    assert "<i>odd</i>" not in html and "&lt;i&gt;odd&lt;/i&gt;" in html


def test_a_chart_with_nothing_to_draw_is_a_line_of_text(run):
    html = render_report(*run, statistics(rejections=[], tools_per_category={}))
    assert html.count("<svg") == 3 and "No rejection." in html and "Nothing to draw." in html


def test_the_same_run_gives_the_same_page(run, page):
    assert render_report(*run, statistics()) == page


def test_a_long_bar_chart_sums_its_tail_in_one_bar():
    counts = [(f"c{i}", 10 - i) for i in range(6)]
    assert top(counts, "categories", keep=3) == [*counts[:3], ("3 other categories", 7 + 6 + 5)]
    assert top(counts, "categories", keep=5) == counts


def test_inline_svg_drops_the_prolog_and_prefixes_ids():
    svg = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg" width="9pt" '
        'height="4pt" viewBox="0 0 9 4"><metadata>x</metadata><g id="a" clip-path="url(#p1)"/>'
        '<use xlink:href="#m2"/></svg>'
    )
    assert inline_svg(svg, "c") == (
        '<svg viewBox="0 0 9 4" class="chart" role="img" aria-label="c">'
        '<g id="c-a" clip-path="url(#c-p1)"/><use xlink:href="#c-m2"/></svg>'
    )


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, tasks.html_report; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_the_page_shows_the_calls_tokens_and_dollars_per_accepted_dialogue_by_stage(tmp_path, no_charts):
    store = RunStore(str(tmp_path))
    run_id = publish(store)
    rows = [
        UsageRow(stage="toolset", role="toolsmith", model="m", calls=3, prompt_tokens=900,
                 completion_tokens=300, cost_usd=0.003),
        UsageRow(stage="simulation", role="user", model="m", calls=9, prompt_tokens=4100,
                 completion_tokens=700, cost_usd=0.0123),
    ]  # fmt: skip
    usage = LLMUsage.from_rows(rows)
    manifest = store.read_manifest(run_id)
    (tmp_path / "runs" / run_id / "manifest.json").write_text(
        manifest.model_copy(update={"llm": usage, "per_accepted": usage.per_accepted(2)}).model_dump_json()
    )
    table = render_report(store, run_id, statistics()).split('id="per-accepted"')[1].split("</table>")[0]
    assert "2 accepted dialogues" in table
    cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", table)
    assert cells[5:] == [
        "toolset", "1.50", "450", "150", "$0.001500",
        "simulation", "4.50", "2,050", "350", "$0.006150",
        "all", "6.00", "2,500", "500", "$0.007650",
    ]  # fmt: skip


def test_the_adaptive_limit_is_charted_per_dask_worker() -> None:
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    changes = [
        ConcurrencyChange(at=start + timedelta(seconds=30), model="m", limit=6, ceiling=8, worker=worker)
        for worker in ("tcp://127.0.0.1:4001", "tcp://127.0.0.1:4002")
    ]
    chart = concurrency_svg("concurrency", changes, start)
    assert "m (tcp://127.0.0.1:4001)" in chart and "m (tcp://127.0.0.1:4002)" in chart
    flow_only = concurrency_svg("concurrency", [changes[0].model_copy(update={"worker": None})], start)
    assert ">m<" in flow_only and "tcp://" not in flow_only


def test_the_page_charts_the_adaptive_limit_and_sets_the_run_beside_its_forecast(tmp_path):
    store = RunStore(str(tmp_path))
    run_id = publish(store)
    manifest = store.read_manifest(run_id)
    at = lambda seconds: manifest.started_at + timedelta(seconds=seconds)  # noqa: E731
    changes = [ConcurrencyChange(at=at(30), model="m", limit=12, ceiling=16),
               ConcurrencyChange(at=at(90), model="m", limit=13, ceiling=16)]  # fmt: skip
    estimate = Estimate(value=100, low=80, high=120)
    check = ForecastCheck(
        created_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
        level=0.9,
        figures=[ForecastFigure(name="model calls", forecast=estimate, actual=131, within=False)],
    )
    assert 'id="chart-concurrency"' not in render_report(store, run_id, statistics())
    (tmp_path / "runs" / run_id / "manifest.json").write_text(
        manifest.model_copy(update={"concurrency": changes, "forecast": check}).model_dump_json()
    )
    page = render_report(store, run_id, statistics())
    chart = page.split('id="chart-concurrency"')[1].split("</figure>")[0]
    assert "2 changes" in chart and "<svg" in chart
    table = page.split('id="forecast"')[1].split("</table>")[0]
    assert "made 2026-12-07 09:30 UTC" in table
    assert re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", table)[5:] == [
        "model calls",
        "100",
        "80-120",
        "131",
        "no",
    ]
