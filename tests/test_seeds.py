"""Seed ingestion: real public-apis snapshots, broken rows, duplicates, every format, URLs, selection."""

from __future__ import annotations

import csv
import functools
import http.server
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.errors import SeedListError
from schemas.seed import IngestProblem, Seed
from tasks.seeds import (
    default_seeds_path,
    detect_format,
    read_seeds,
    select_seeds,
    slugify,
    summarize_problems,
)

PUBLIC_APIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "public-apis"
README_2022 = PUBLIC_APIS / "README-2022-07.md"
README_2026 = PUBLIC_APIS / "README-2026-08.md"
needs_snapshots = pytest.mark.skipif(
    not PUBLIC_APIS.is_dir(), reason=f"public-apis snapshots not found at {PUBLIC_APIS}"
)

SAMPLE_MD = """\
# Sample list

### Animals
API | Description | Auth | HTTPS | CORS |
|---|---|---|---|---|
| [Cat Facts](https://catfact.ninja/) | Random cat facts | No | Yes | Yes |
| [Dogs](https://dog.ceo/dog-api/) | Dog pictures | `apiKey` | No | Unknown |

### Weather
| API | Description | Auth | HTTPS | CORS |
|:---|:---|:---|:---|:---|
| [Open-Meteo](https://open-meteo.com/) | Forecasts a \\| b | `OAuth` | Yes | No | |
| Plain Weather | No link here | No | Maybe | yes |
"""

FIELDS = ("seed_id", "name", "description", "category", "auth", "https", "cors", "link")


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _essentials(seeds: list[Seed]) -> list[tuple[object, ...]]:
    """The seeds' content without where they were read from."""
    return [tuple(getattr(s, name) for name in FIELDS) for s in seeds]


def _public_rows(seeds: list[Seed]) -> list[dict[str, object]]:
    """Seeds as rows in the public-apis JSON shape (API, Description, Auth, HTTPS, Cors, Link, Category)."""
    return [
        {
            "API": s.name,
            "Description": s.description,
            "Auth": s.auth,
            "HTTPS": s.https,
            "Cors": s.cors,
            "Link": s.link,
            "Category": s.category,
        }
        for s in seeds
    ]


def _lines_between(path: Path, start: str, end: str) -> list[tuple[int, str]]:
    """(line number, line) pairs from the first line equal to `start` up to, not including, `end`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    first = lines.index(start)
    last = lines.index(end, first)
    return [(number, lines[number - 1]) for number in range(first + 1, last + 1)]


# --------------------------------------------------------------------------- real snapshots


@needs_snapshots
def test_2022_snapshot_has_1425_seeds_in_51_categories() -> None:
    seeds, problems = read_seeds(str(README_2022))

    assert len(seeds) == 1425
    assert len({s.category for s in seeds}) == 51
    assert not [p for p in problems if p.action == "skipped"]
    assert len({s.seed_id for s in seeds}) == len(seeds)
    assert len({s.name.casefold() for s in seeds}) == len(seeds)
    kept = {p.name: p.reason for p in problems if p.action == "kept"}
    assert "extra" in kept["MapQuest"]
    assert "Unkown" in kept["Tax Data API"]
    mapquest = next(s for s in seeds if s.name == "MapQuest")
    assert (mapquest.auth, mapquest.https, mapquest.cors) == ("apiKey", True, "no")


@needs_snapshots
def test_2026_snapshot_reads_every_category_row_and_nothing_from_the_sponsor_block() -> None:
    seeds, problems = read_seeds(str(README_2026))
    body = _lines_between(README_2026, "### Animals", "## License")
    expected_rows = [number for number, line in body if line.startswith("| [")]
    expected_categories = {line[4:].strip() for _, line in body if line.startswith("### ")}

    assert len(seeds) == len(expected_rows)
    assert [s.line for s in seeds] == expected_rows
    assert {s.category for s in seeds} == expected_categories
    assert len(expected_categories) == 51
    assert not [p for p in problems if p.action == "skipped"]
    assert not [s for s in seeds if "apilayer" in s.category.lower()]
    # Sponsor-only names never become seeds; IPstack is also listed under Geocoding, and only that row counts.
    names = {s.name for s in seeds}
    assert not names & {"Zenserp", "Aviationstack"}
    assert [(s.category, s.line) for s in seeds if s.name == "IPstack"] == [("Geocoding", 1064)]
    assert any(p.action == "renamed" and p.name == "ipstack" for p in problems)


@needs_snapshots
def test_snapshot_quirks_are_normalized() -> None:
    seeds, _ = read_seeds(str(README_2026))
    by_name = {s.name: s for s in seeds}

    assert {s.cors for s in seeds} <= {"yes", "no", "unknown"}
    assert all(isinstance(s.https, bool) for s in seeds)
    assert all("`" not in s.auth and s.auth.lower() != "no" for s in seeds)
    assert by_name["Discord"].cors == "unknown"  # row ends with two empty cells
    assert by_name["Cat Facts (2)"].seed_id == "cat-facts-2"
    assert by_name["Cat Facts"].link == "https://alexwohlbruck.github.io/cat-facts/"


# --------------------------------------------------------------------------- markdown details


def test_markdown_cells_links_and_values(tmp_path: Path) -> None:
    seeds, problems = read_seeds(_write(tmp_path / "list.md", SAMPLE_MD))

    assert [(s.name, s.category, s.line) for s in seeds] == [
        ("Cat Facts", "Animals", 6),
        ("Dogs", "Animals", 7),
        ("Open-Meteo", "Weather", 12),
        ("Plain Weather", "Weather", 13),
    ]
    cat, dogs, meteo, plain = seeds
    assert (cat.auth, cat.https, cat.cors, cat.link) == ("", True, "yes", "https://catfact.ninja/")
    assert (dogs.auth, dogs.https, dogs.cors) == ("apiKey", False, "unknown")
    assert (meteo.description, meteo.auth, meteo.cors) == ("Forecasts a | b", "OAuth", "no")
    assert (plain.link, plain.https, plain.cors) == ("", None, "yes")
    assert [(p.line, p.action) for p in problems] == [(13, "kept")]
    assert "HTTPS" in problems[0].reason


def test_broken_markdown_rows_are_reported_and_good_rows_kept(tmp_path: Path) -> None:
    text = """\
### Tools
| API | Description | Auth | HTTPS | CORS |
|---|---|---|---|---|
| [Good One](https://one.example) | Fine | No | Yes | Yes |
| [Too Short](https://short.example) | Missing cells |
| [No Description](https://nodesc.example) |  | No | Yes | No |
| | Nameless | No | Yes | No |
| API | Description | Auth | HTTPS | CORS |
| [Good Two](https://two.example) | Also fine | No | Yes | No | Extra |
"""
    source = _write(tmp_path / "broken.md", text)
    seeds, problems = read_seeds(source)

    assert [s.name for s in seeds] == ["Good One", "Good Two"]
    skipped = [p for p in problems if p.action == "skipped"]
    assert [(p.source, p.line) for p in skipped] == [(source, 5), (source, 6), (source, 7)]
    assert "found 2" in skipped[0].reason
    assert skipped[1].name == "No Description" and "description" in skipped[1].reason
    assert "name" in skipped[2].reason
    assert [(p.line, p.action) for p in problems if p.action == "kept"] == [(9, "kept")]
    assert f"{source}:5 (Too Short): skipped:" in str(skipped[0])


def test_markdown_outside_api_tables_yields_nothing(tmp_path: Path) -> None:
    text = """\
| [Loose](https://loose.example) | Not under a category | No | Yes | Yes |

### Sponsors
- [Bullet](https://bullet.example)

## Sponsor table
| API | Description | Call this API |
|:---|:---|:---|
| [Sponsored](https://sponsor.example) | Promoted | [Run](https://run.example) |

### Real
| API | Description | Auth | HTTPS | CORS |
|---|---|---|---|---|
| [Real](https://real.example) | Counted | No | Yes | Yes |

### Partners
| API | Description | Call this API |
|:---|:---|:---|
| [Partner](https://partner.example) | Not an API table row | [Run](https://run.example) |

## Index
| [After](https://after.example) | After a level-2 heading | No | Yes | Yes |
"""
    seeds, problems = read_seeds(_write(tmp_path / "sponsor.md", text))

    assert [(s.name, s.category) for s in seeds] == [("Real", "Real")]
    # A table under a ### heading that is not an API table is reported once; the rest is silent prose.
    assert [(p.line, p.action) for p in problems] == [(17, "skipped")]
    assert "not an API table" in problems[0].reason


# --------------------------------------------------------------------------- duplicates


def test_duplicates_are_renamed_in_file_order_and_reported(tmp_path: Path) -> None:
    rows = [
        {"API": "Dog Facts", "Description": "first", "Category": "A"},
        {"API": " dog facts ", "Description": "second", "Category": "A"},
        {"API": "Dog Facts (2)", "Description": "an original name", "Category": "B"},
        {"API": "DOG FACTS", "Description": "fourth", "Category": "B"},
        {"API": "C++", "Description": "slug c", "Category": "B"},
        {"API": "C#", "Description": "slug c again", "Category": "B"},
    ]
    source = _write(tmp_path / "dups.json", json.dumps(rows))
    seeds, problems = read_seeds(source)
    again, _ = read_seeds(source)

    assert [(s.name, s.seed_id) for s in seeds] == [
        ("Dog Facts", "dog-facts"),
        ("dog facts (3)", "dog-facts-3"),
        ("Dog Facts (2)", "dog-facts-2"),
        ("DOG FACTS (4)", "dog-facts-4"),
        ("C++", "c"),
        ("C#", "c-2"),
    ]
    assert _essentials(seeds) == _essentials(again)
    renamed = [p for p in problems if p.action == "renamed"]
    assert [(p.line, p.name) for p in renamed] == [(2, "dog facts"), (4, "DOG FACTS")]
    assert "'dog facts (3)'" in renamed[0].reason and "line 1" in renamed[0].reason


def test_slugify() -> None:
    assert slugify("Dog Facts (2)") == "dog-facts-2"
    assert slugify("  PokéAPI  ") == "pokeapi"
    assert slugify("Open Government, Mexico") == "open-government-mexico"
    assert slugify("???") == "seed"


# --------------------------------------------------------------------------- other formats


@pytest.fixture
def sample_seeds(tmp_path: Path) -> list[Seed]:
    seeds, _ = read_seeds(_write(tmp_path / "sample.md", SAMPLE_MD))
    return seeds


def test_json_list_and_entries_round_trip(tmp_path: Path, sample_seeds: list[Seed]) -> None:
    rows = _public_rows(sample_seeds)
    rows[1]["HTTPS"] = "No"  # the strings "Yes"/"No" are accepted as well as booleans
    listed, listed_problems = read_seeds(_write(tmp_path / "list.json", json.dumps(rows)))
    wrapped, _ = read_seeds(_write(tmp_path / "wrapped.json", json.dumps({"count": 4, "entries": rows})))

    assert _essentials(listed) == _essentials(sample_seeds)
    assert _essentials(wrapped) == _essentials(sample_seeds)
    assert [s.line for s in listed] == [1, 2, 3, 4]
    assert listed_problems == []


def test_json_keys_are_case_insensitive_and_category_defaults(tmp_path: Path) -> None:
    rows = [
        {"name": "Lower", "DESCRIPTION": "keys in any case", "https": "yes", "cors": "YES", "LINK": "x"},
        "not an object",
        {"Name": "Second", "Description": "", "Category": "C"},
    ]
    seeds, problems = read_seeds(_write(tmp_path / "mixed.json", json.dumps(rows)))

    assert [(s.name, s.category, s.https, s.cors, s.link) for s in seeds] == [
        ("Lower", "Uncategorized", True, "yes", "x")
    ]
    assert [(p.line, p.action) for p in problems] == [(1, "kept"), (2, "skipped"), (3, "skipped")]


def test_csv_round_trip_with_physical_line_numbers(tmp_path: Path, sample_seeds: list[Seed]) -> None:
    rows = _public_rows(sample_seeds)
    rows[0]["Description"] = "Random cat facts"
    path = tmp_path / "seeds.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "HTTPS": {True: "Yes", False: "No", None: ""}[row["HTTPS"]]} for row in rows)
    seeds, problems = read_seeds(str(path))

    assert _essentials(seeds) == _essentials(sample_seeds)
    assert [s.line for s in seeds] == [2, 3, 4, 5]
    assert problems == []

    multiline = 'api,description,category\nFirst,"two\nlines",A\n\nSecond,one line,A\n,no name,A\n'
    seeds, problems = read_seeds(_write(tmp_path / "multi.csv", multiline))
    assert [(s.name, s.line) for s in seeds] == [("First", 2), ("Second", 5)]
    assert [(p.line, p.action) for p in problems] == [(6, "skipped")]


def test_parquet_round_trip(tmp_path: Path, sample_seeds: list[Seed]) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "seeds.parquet"
    pq.write_table(pa.Table.from_pylist(_public_rows(sample_seeds)), path)
    seeds, problems = read_seeds(str(path))

    assert _essentials(seeds) == _essentials(sample_seeds)
    assert [s.line for s in seeds] == [1, 2, 3, 4]
    assert problems == []


def test_format_detection(tmp_path: Path) -> None:
    assert detect_format("a/b.MD") == "markdown"
    assert detect_format("https://host/list.json?raw=1") == "json"
    assert detect_format("whatever.txt", "CSV") == "csv"
    with pytest.raises(ValueError, match=r"list\.txt.*markdown, json, csv, parquet"):
        detect_format("list.txt")
    with pytest.raises(ValueError, match="accepted formats"):
        read_seeds(_write(tmp_path / "x.md", SAMPLE_MD), fmt="yaml")
    seeds, _ = read_seeds(_write(tmp_path / "list.txt", SAMPLE_MD), fmt="markdown")
    assert len(seeds) == 4
    with pytest.raises(SeedListError, match=r"missing\.md"):
        read_seeds(str(tmp_path / "missing.md"))


# --------------------------------------------------------------------------- URLs


@pytest.fixture
def served_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a temp folder: (base URL, folder)."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_url_source(served_dir: tuple[str, Path]) -> None:
    base, folder = served_dir
    _write(folder / "seeds.md", SAMPLE_MD)
    url = f"{base}/seeds.md"
    seeds, _ = read_seeds(url)
    local, _ = read_seeds(str(folder / "seeds.md"))

    assert _essentials(seeds) == _essentials(local)
    assert {s.source for s in seeds} == {url}
    with pytest.raises(SeedListError, match=r"/missing\.md"):
        read_seeds(f"{base}/missing.md")


# --------------------------------------------------------------------------- encodings and empty lists

LATIN1_CSV = (
    "API,Description,Category\nCafé Menus,Menus of cafés in Zürich,Food\nCrème,Desserts à la carte,Food\n"
)
RUSSIAN = [
    {"API": "Погода", "Description": "Прогноз погоды для городов России и мира"},
    {"API": "Новости", "Description": "Последние новости из разных источников"},
]


def test_a_latin1_csv_is_detected_and_read_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "spreadsheet.csv"
    path.write_bytes(LATIN1_CSV.encode("latin-1"))

    seeds, problems = read_seeds(str(path))

    assert [(s.name, s.description, s.line) for s in seeds] == [
        ("Café Menus", "Menus of cafés in Zürich", 2),
        ("Crème", "Desserts à la carte", 3),
    ]
    notice = [p for p in problems if "not UTF-8" in p.reason]
    assert len(notice) == 1 and notice[0].action == "kept"
    assert f"{path}:2:4" in notice[0].reason and "cp1252" in notice[0].reason
    assert "--seeds-encoding" in notice[0].reason


def test_a_named_encoding_is_used_as_given(tmp_path: Path) -> None:
    path = tmp_path / "spreadsheet.csv"
    path.write_bytes(LATIN1_CSV.encode("latin-1"))
    seeds, problems = read_seeds(str(path), encoding="latin-1")
    assert seeds[1].name == "Crème" and problems == []

    with pytest.raises(SeedListError, match=rf"{path}:2:4: not valid utf-8.*byte 0xe9.*--seeds-encoding"):
        read_seeds(str(path), encoding="utf-8")
    with pytest.raises(SeedListError, match="unknown encoding 'latin-9000'"):
        read_seeds(str(path), encoding="latin-9000")


def test_other_encodings_are_detected_when_unambiguous_and_refused_when_not(tmp_path: Path) -> None:
    cyrillic = tmp_path / "ru.json"
    cyrillic.write_bytes(json.dumps(RUSSIAN, ensure_ascii=False).encode("cp1251"))
    seeds, problems = read_seeds(str(cyrillic))
    assert [s.name for s in seeds] == ["Погода", "Новости"] and "cp1251" in problems[0].reason
    # two words are too few to tell Cyrillic (cp1251) from Greek (cp1253): refused, with both readings
    short = tmp_path / "short.json"
    short_list = [{"API": "Погода", "Description": "Прогноз"}]
    short.write_bytes(json.dumps(short_list, ensure_ascii=False).encode("cp1251"))
    with pytest.raises(SeedListError, match=r"cp1251 and cp1253 read it differently: line 1: '\"Погода\",'"):
        read_seeds(str(short))


def test_an_undetectable_encoding_is_refused_naming_file_line_and_option(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"API,Description\n" + bytes(range(128, 256)) * 4)

    with pytest.raises(SeedListError) as refused:
        read_seeds(str(path))

    message = str(refused.value)
    assert f"{path}:2:1:" in message and "not UTF-8" in message and "--seeds-encoding" in message


@pytest.mark.parametrize(
    ("name", "text", "looked_for"),
    [
        ("prose.md", "# My APIs\n\nSome prose about APIs, and no table.\n", "| API | Description"),
        ("header.csv", "API,Description,Category\n", "header line"),
        ("empty.json", "[]", "list of objects"),
        ("other.csv", "title,url\nA,https://a.example\n", "none of its 1 API row"),
    ],
)
def test_a_seed_list_without_api_rows_is_an_error_saying_what_was_looked_for(
    tmp_path: Path, name: str, text: str, looked_for: str
) -> None:
    with pytest.raises(SeedListError, match=r"no API rows found|none of its") as refused:
        read_seeds(_write(tmp_path / name, text))
    assert str(tmp_path / name) in str(refused.value) and looked_for in str(refused.value)


def test_a_missing_seed_list_or_a_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SeedListError, match=r"seed list not found: .*nowhere\.md does not exist"):
        read_seeds(str(tmp_path / "nowhere.md"))
    with pytest.raises(SeedListError, match="is a folder"):
        read_seeds(str(tmp_path), fmt="markdown")


# --------------------------------------------------------------------------- selection


def _grid(sizes: dict[str, int]) -> list[Seed]:
    """Synthetic seeds: `sizes[c]` seeds in each category c, categories interleaved in file order."""
    seeds: list[Seed] = []
    remaining = dict(sizes)
    while any(remaining.values()):
        for category, left in remaining.items():
            if left:
                number = sizes[category] - left + 1
                name = f"{category} {number}"
                seeds.append(
                    Seed(
                        seed_id=slugify(name),
                        name=name,
                        description="d",
                        category=category,
                        source="grid",
                        line=len(seeds) + 1,
                    )
                )
                remaining[category] = left - 1
    return seeds


def test_stratified_sample_is_reproducible_proportional_and_ordered() -> None:
    seeds = _grid({"Big": 60, "Mid": 30, "Small": 8, "Tiny": 2})
    first = select_seeds(seeds, sample=20, seed=7)
    again = select_seeds(seeds, sample=20, seed=7)
    other = select_seeds(seeds, sample=20, seed=8)

    assert first == again
    assert first != other
    assert len(first) == len(other) == 20
    # Exact shares 12, 6, 1.6, 0.4: largest remainder gives Small 2, Tiny 0; Tiny then takes one from Small.
    assert Counter(s.category for s in first) == {"Big": 12, "Mid": 6, "Small": 1, "Tiny": 1}
    assert Counter(s.category for s in other) == Counter(s.category for s in first)
    assert [s.line for s in first] == sorted(s.line for s in first)


def test_stratified_sample_covers_every_category_when_n_allows() -> None:
    seeds = _grid({"A": 90, "B": 3, "C": 2, "D": 1, "E": 1})
    for n in (5, 6, 10):
        picked = select_seeds(seeds, sample=n, seed=1)
        assert len(picked) == n
        assert {s.category for s in picked} == {"A", "B", "C", "D", "E"}
    few = select_seeds(seeds, sample=2, seed=1)
    assert len(few) == 2 and "A" in {s.category for s in few}
    assert select_seeds(seeds, sample=1000) == seeds


@needs_snapshots
def test_stratified_sample_of_a_snapshot() -> None:
    seeds, _ = read_seeds(str(README_2022))
    picked = select_seeds(seeds, sample=100, seed=0)

    assert len(picked) == 100
    assert len({s.category for s in picked}) == 51
    assert picked == select_seeds(seeds, sample=100, seed=0)


def test_limit_and_categories() -> None:
    seeds = _grid({"Animals": 4, "Weather": 3, "Books": 2})

    assert select_seeds(seeds) == seeds
    assert select_seeds(seeds, limit=3) == seeds[:3]
    weather = select_seeds(seeds, categories=["weather", "BOOKS"])
    assert {s.category for s in weather} == {"Weather", "Books"} and len(weather) == 5
    assert (
        select_seeds(seeds, categories=["Weather"], limit=2)
        == [s for s in seeds if s.category == "Weather"][:2]
    )
    limited_sample = select_seeds(seeds, sample=6, limit=2, seed=3)
    assert limited_sample == select_seeds(seeds, sample=6, seed=3)[:2]
    with pytest.raises(ValueError, match=r"unknown category 'Music'.*available: Animals, Weather, Books"):
        select_seeds(seeds, categories=["Music"])
    for bad in ({"limit": 0}, {"sample": 0}, {"sample": -3}):
        with pytest.raises(ValueError, match=">= 1"):
            select_seeds(seeds, **bad)


# --------------------------------------------------------------------------- defaults and reports


def test_default_seed_list_parses_cleanly() -> None:
    path = default_seeds_path()
    seeds, problems = read_seeds(path)

    assert Path(path).is_file()
    assert problems == []
    assert len(seeds) >= 10
    assert len({s.category for s in seeds}) >= 4
    assert all(s.link.startswith(("http://", "https://")) for s in seeds)


def test_summarize_problems() -> None:
    problems = [
        IngestProblem(source="f.md", line=3, name="A", action="skipped", reason="empty description"),
        IngestProblem(source="f.md", line=9, name="B", action="renamed", reason="duplicate"),
        IngestProblem(source="f.md", line=12, name="C", action="renamed", reason="duplicate"),
    ]
    report = summarize_problems(problems)

    assert report.splitlines()[0] == "3 ingest problems: 1 skipped, 2 renamed"
    assert "f.md:3 (A): skipped: empty description" in report
    assert len(report.splitlines()) == 4
    assert summarize_problems([]) == "No ingest problems."
