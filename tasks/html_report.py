"""A run's HTML report: one self-contained page (inline CSS, JS and SVG charts; it makes no request)
with the run's header, its statistics (ToolAlpaca's Table 1, dialogue types, LLM usage, the model
calls, tokens and dollars per accepted dialogue by stage), Figure 4's
length histograms, tools per category, the rejections by rule, and a browser of its dialogues.

`render_report` returns the page; the template and its static files are in `tasks/html_report/`.
The dialogues travel as JSON in a `<script type="application/json" id="dialogs-data">` block, `<`,
`>` and `&` written as `\\u003c`... so no text of a dialogue can close it.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from schemas.dialog import Dialog, DialogType
from schemas.limits import ConcurrencyChange, by_limit
from schemas.manifest import Manifest
from schemas.statistics import CorpusStatistics, Histogram
from storage.run_store import RunStore
from tasks.forecast import FORECAST_CHECK_HEADER, forecast_check_rows
from tasks.statistics import PER_ACCEPTED_HEADER, TABLE_1, USAGE, figure, per_accepted_rows

STATIC = Path(__file__).with_name("html_report")
MAX_DIALOGS = 2000
BAR = "#4c78a8"
TOP_BARS = 30
"""A bar chart of categories or rules shows this many bars, then one for the rest."""
CHART_STYLE = {
    "svg.fonttype": "none",
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888",
    "xtick.color": "#444",
    "ytick.color": "#444",
}
"""matplotlib's settings for every chart of the report."""


def render_report(
    store: RunStore, run_id: str, statistics: CorpusStatistics, *, max_dialogs: int = MAX_DIALOGS
) -> str:
    """The report of run `run_id` as one HTML document; its browser holds at most `max_dialogs`
    dialogues (accepted by id, then rejected by id) and says so when it holds fewer than the run has."""
    manifest = store.read_manifest(run_id)
    dialogs, total = dialogue_records(store, run_id, max_dialogs)
    env = Environment(loader=FileSystemLoader(STATIC), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(
        manifest=manifest,
        times=run_times(manifest),
        models=models(manifest.config),
        sections=stat_sections(statistics),
        per_accepted=(PER_ACCEPTED_HEADER, per_accepted_rows(manifest.per_accepted))
        if manifest.per_accepted
        else None,
        forecast=(FORECAST_CHECK_HEADER, forecast_check_rows(manifest.forecast))
        if manifest.forecast
        else None,
        rejections=[
            (r.step, r.rule, f"rejections.{r.step}.{r.rule}", figure("count", r.count))
            for r in statistics.rejections
        ],
        charts=charts(statistics),
        concurrency=concurrency_svg("concurrency", manifest.concurrency, manifest.started_at),
        shown=len(dialogs),
        total=total,
        data=script_json({"total": total, "dialogs": dialogs}),
        css=Markup((STATIC / "report.css").read_text(encoding="utf-8")),
        js=Markup((STATIC / "report.js").read_text(encoding="utf-8")),
    )


def stat_sections(stats: CorpusStatistics) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """The statistics tables: (title, rows of (label, `data-stat` key, figure, note))."""

    def share(part: float, whole: float) -> str:
        return f"{100 * part / whole:.1f}%" if whole else ""

    notes = {
        "rejected_instances": share(stats.rejected_instances, stats.instances + stats.rejected_instances),
        "single_call": share(stats.single_call, stats.instances),
        "multiple_calls": share(stats.multiple_calls, stats.instances),
        "no_call": share(stats.no_call, stats.instances),
        "llm_cache_hits": share(stats.llm_cache_hits, stats.llm_calls),
    }
    fields = lambda pairs: [  # noqa: E731
        (label, name, figure(name, getattr(stats, name)), notes.get(name, "")) for name, label in pairs
    ]
    order = {kind: i for i, kind in enumerate(get_args(DialogType))}
    types = sorted(stats.dialog_types.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    return [
        ("Table 1 (ToolAlpaca)", fields(TABLE_1)),
        (
            "Dialogue types (accepted)",
            [(kind, f"dialog_types.{kind}", figure(kind, n), share(n, stats.instances)) for kind, n in types],
        ),
        ("LLM usage", fields(USAGE)),
    ]


def run_times(manifest: Manifest) -> dict[str, str]:
    """The run's start, end and duration as text (UTC, to the second)."""
    text = lambda t: f"{t.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if t else "not finished"  # noqa: E731
    times = {"started": text(manifest.started_at), "finished": text(manifest.finished_at), "took": ""}
    if manifest.finished_at:
        seconds = round((manifest.finished_at - manifest.started_at).total_seconds())
        minutes, s = divmod(seconds, 60)
        h, m = divmod(minutes, 60)
        times["took"] = f"{h} h {m} min" if h else f"{m} min {s} s" if m else f"{s} s"
    return times


def models(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The models of the run's configuration: ("all roles", model), then each role's override."""
    llm = config.get("llm") or {}
    rows = [("all roles" if not llm.get("role_models") else "default", str(llm.get("model", "?")))]
    return rows + sorted((role, str(model)) for role, model in (llm.get("role_models") or {}).items())


def dialogue_records(store: RunStore, run_id: str, max_dialogs: int) -> tuple[list[dict[str, Any]], int]:
    """At most `max_dialogs` dialogues as the browser's records (accepted then rejected, each by id,
    only the chosen rows read), and how many dialogues the run has."""
    categories = dict(
        zip(
            store.read_column(run_id, "tools", "tool_id"),
            store.read_column(run_id, "tools", "category"),
            strict=True,
        )
    )
    chosen: list[dict[str, Any]] = []
    total = 0
    for name, status in (("dialogs", "accepted"), ("rejected_dialogs", "rejected")):
        ids = sorted({str(i) for i in store.read_column(run_id, name, "dialog_id")}, key=natural)
        total += len(ids)
        wanted = ids[: max(max_dialogs - len(chosen), 0)]
        found = read_dialogs(store, run_id, name, set(wanted))
        chosen += [dialog_record(found[i], status, categories) for i in wanted if i in found]
    return chosen, total


def read_dialogs(store: RunStore, run_id: str, name: str, ids: set[str]) -> dict[str, Dialog]:
    """The dialogues of artifact `name` whose id is in `ids` (the first of each), by id."""
    found: dict[str, Dialog] = {}
    for dialog in store.iter_records_where(run_id, name, Dialog, "dialog_id", ids):
        found.setdefault(dialog.dialog_id, dialog)
        if len(found) == len(ids):
            break  # the later parts are not read
    return found


def dialog_record(dialog: Dialog, status: str, categories: dict[Any, Any]) -> dict[str, Any]:
    """What the browser shows of one dialogue (a message keeps only its non-empty fields)."""
    return {
        "id": dialog.dialog_id,
        "tool": dialog.tool_id,
        "tools": dialog.tool_ids,
        "category": str(categories.get(dialog.tool_id, "")),
        "type": dialog.dialog_type,
        "status": status,
        "rule": dialog.rejection_rule or "",
        "reason": dialog.rejection_reason,
        "request": dialog.instruction,
        "functions": dialog.functions_used,
        "calls": dialog.calls,
        "complexity": dialog.complexity_band,
        "ending": dialog.ending,
        "ending_detail": dialog.ending_detail,
        "verdicts": [[v.check, v.layer, v.passed, v.reason] for v in dialog.verdicts],
        "messages": [m.model_dump(exclude_defaults=True) for m in dialog.messages],
    }


def natural(text: str) -> list[Any]:
    """A sort key that puts `tool-9` before `tool-10`."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text)]


def script_json(value: object) -> Markup:
    """`value` as JSON safe inside a `<script>` element: `<`, `>` and `&` as `\\u` escapes."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def charts(stats: CorpusStatistics) -> dict[str, Markup]:
    """The report's charts as inline SVG: Figure 4's three histograms, tools per category, and
    rejections by rule (an empty string for a chart with nothing to draw)."""
    import matplotlib

    matplotlib.use("Agg")
    by_rule = Counter[str]()
    for r in stats.rejections:
        by_rule[r.rule] += r.count
    rules = sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))
    histograms: dict[str, tuple[Histogram, str]] = {
        "request_words": (stats.request_words, "words in the request"),
        "answer_words": (stats.answer_words, "words in the final answer"),
        "steps": (stats.steps, "steps (calls and questions)"),
    }
    drawn = {
        name: bar_svg(name, list(zip(h.labels(), h.counts, strict=True)), xlabel, "dialogues")
        for name, (h, xlabel) in histograms.items()
    }
    categories = top(list(stats.tools_per_category.items()), "categories")
    drawn["tools_per_category"] = bar_svg("tools_per_category", categories, "tools", "", horizontal=True)
    drawn["rejections"] = bar_svg(
        "rejections", top(rules, "rules"), "tools and dialogues", "", horizontal=True
    )
    return drawn


def top(counts: list[tuple[str, int]], what: str, keep: int = TOP_BARS) -> list[tuple[str, int]]:
    """The first `keep` of `counts`, and one bar summing the rest when there are more."""
    if len(counts) <= keep + 1:
        return counts
    return [*counts[:keep], (f"{len(counts) - keep} other {what}", sum(n for _, n in counts[keep:]))]


def bar_svg(
    name: str, bars: Sequence[tuple[str, int]], xlabel: str, ylabel: str, *, horizontal: bool = False
) -> Markup:
    """A small chart of (label, count) bars (top down when `horizontal`), each labelled with its count,
    as an inline `<svg>` (its ids prefixed with `name`); an empty string when every count is 0."""
    import matplotlib
    from matplotlib.figure import Figure

    labels, counts = [label for label, _ in bars], [count for _, count in bars]
    if not any(counts):
        return Markup("")
    with matplotlib.rc_context({**CHART_STYLE, "svg.hashsalt": name}):
        height = 0.5 + 0.24 * len(labels) if horizontal else 2.4
        fig = Figure(figsize=(4.6, max(height, 1.2)), layout="constrained")
        ax = fig.add_subplot()
        if horizontal:
            drawn = ax.barh(labels[::-1], counts[::-1], color=BAR)
            ax.margins(x=0.12)
        else:
            drawn = ax.bar(labels, counts, color=BAR, width=0.75)
            ax.margins(y=0.15)
            if len(labels) > 8:
                ax.tick_params(axis="x", labelrotation=30)
                for tick in ax.get_xticklabels():
                    tick.set_horizontalalignment("right")
        ax.bar_label(drawn, labels=[str(c) if c else "" for c in drawn.datavalues], padding=2, fontsize=7)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        (ax.xaxis if horizontal else ax.yaxis).get_major_locator().set_params(integer=True)
        return figure_svg(fig, name)  # in the context: its svg.* settings apply as it is saved


def concurrency_svg(name: str, history: Sequence[ConcurrencyChange], started_at: datetime) -> Markup:
    """Each model's adaptive limit on its calls in flight over the run (`history`: its changes), a
    step line from the ceiling it started at (one per Dask worker, whose gateways each keep their
    own), the ceiling dashed; an empty string without changes."""
    import matplotlib
    from matplotlib.figure import Figure

    if not history:
        return Markup("")
    end = max((change.at - started_at).total_seconds() / 60 for change in history)
    with matplotlib.rc_context({**CHART_STYLE, "svg.hashsalt": name}):
        fig = Figure(figsize=(4.6, 2.4), layout="constrained")
        ax = fig.add_subplot()
        for name, changes in by_limit(history).items():
            minutes = [0.0, *((c.at - started_at).total_seconds() / 60 for c in changes), end]
            limits = [changes[0].ceiling, *(c.limit for c in changes), changes[-1].limit]
            ax.step(minutes, limits, where="post", label=name)
            ax.axhline(changes[0].ceiling, color="#888", linestyle="--", linewidth=0.8)
        ax.set(xlabel="minutes into the run", ylabel="calls in flight", ylim=(0, None))
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7, frameon=False)
        return figure_svg(fig, name)  # in the context: its svg.* settings apply as it is saved


def figure_svg(fig: Any, name: str) -> Markup:
    """A matplotlib figure as inline SVG (`inline_svg`), without a date: the same run, the same page.
    Called within the chart's `rc_context`, whose `svg.*` settings are read as the file is written."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return Markup(inline_svg(buf.getvalue(), name))


def inline_svg(svg: str, prefix: str) -> str:
    """A matplotlib SVG file as an element to put in HTML: no XML prolog, DOCTYPE, metadata, namespace
    declarations, style element (`report.css` has its rule) or fixed size (it scales to its box), and its
    ids prefixed so charts don't clash."""
    svg = re.sub(r"<(metadata|style)\b.*?</\1>\s*", "", svg[svg.index("<svg") :], flags=re.S)
    head, body = svg.split(">", 1)
    head = re.sub(r'\s(?:xmlns(?::\w+)?|width|height|version)="[^"]*"', "", head)
    body = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', body)
    body = re.sub(r'(url\(#|href="#)([^)"]+)', rf"\1{prefix}-\2", body)
    return f'{head} class="chart" role="img" aria-label="{prefix.replace("_", " ")}">{body.strip()}'
