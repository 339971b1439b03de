"""Seed ingestion: read a list of real-world APIs into `Seed` records, then choose which ones to use.

Pure functions, no LLM and no orchestration. `read_seeds` accepts the public-apis README
(markdown), JSON, CSV or Parquet, from a local path or an http(s) URL, and reports every row it
skipped, renamed or had to bend as an `IngestProblem`. `select_seeds` filters by category, draws
a reproducible stratified sample and applies a limit. `default_seeds_path` locates the project's
own small seed list, and `summarize_problems` renders problems for a person to read.
"""

from __future__ import annotations

import codecs
import csv
import http.client
import io
import json
import random
import re
import unicodedata
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from schemas.errors import InputError, SeedListError
from schemas.seed import IngestProblem, Seed

ACCEPTED_FORMATS = ("markdown", "json", "csv", "parquet")
"""The seed list formats `read_seeds` understands."""

DETECTION_CHAOS_LIMIT = 0.1
"""The most mess (charset-normalizer's `chaos`, 0 to 1) a detected encoding may leave in the text."""

FETCH_TIMEOUT_S = 30.0
"""How long to wait for a seed list served over http(s)."""

UNCATEGORIZED = "Uncategorized"
"""The category given to a JSON, CSV or Parquet row that names none."""

_EXTENSIONS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".csv": "csv",
    ".parquet": "parquet",
}
_FORMAT_ALIASES = {"md": "markdown", "pq": "parquet"}
_API_COLUMNS = ("api", "description", "auth", "https", "cors")
_CORS_VALUES = {"yes", "no", "unknown"}
_NO_AUTH = {"", "no", "none", "false"}
_TRUE_WORDS = {"yes", "true"}
_FALSE_WORDS = {"no", "false"}
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_SEPARATOR_CELL = re.compile(r":?-+:?")
_LINKED_NAME = re.compile(r"\[(?P<name>.*)\]\((?P<link>.*)\)", re.DOTALL)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_Action = Literal["skipped", "renamed", "kept"]
_FIELD_KEYS = {
    "name": ("api", "name"),
    "description": ("description",),
    "auth": ("auth",),
    "https": ("https",),
    "cors": ("cors",),
    "link": ("link", "url"),
    "category": ("category",),
}


@dataclass
class _Row:
    """One API row as found in a source, before its values are normalized or its name de-duplicated."""

    line: int | None
    name: Any = ""
    description: Any = ""
    auth: Any = ""
    https: Any = None
    cors: Any = None
    link: Any = ""
    category: Any = None


@dataclass
class _Entry:
    """A row whose values are normalized; it becomes a `Seed` once its name is unique."""

    line: int | None
    name: str
    description: str
    category: str
    auth: str
    https: bool | None
    cors: str
    link: str


@dataclass
class _MarkdownState:
    """Where the markdown reader is: the current `###` category and the kind of table it is inside."""

    category: str | None = None
    table: Literal["api", "other"] | None = None
    rows: list[_Row] = field(default_factory=list)
    problems: list[IngestProblem] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def read_seeds(
    source: str, fmt: str | None = None, encoding: str | None = None
) -> tuple[list[Seed], list[IngestProblem]]:
    """Read the seed list at `source` (local path or http(s) URL) as `fmt`, or as its extension says.

    Text is read as `encoding` when given, else as UTF-8, else in the encoding charset-normalizer
    detects with confidence (reported as a problem); otherwise, and when the list holds no API row
    at all, `SeedListError` says why, naming the file and line.

    Returns the seeds in file order, with unique names and `seed_id`s, and every problem noticed
    on the way (skipped rows, renamed duplicates, tolerated quirks), ordered by line.
    """
    source = str(source)
    try:
        kind = detect_format(source, fmt)
    except ValueError as exc:
        raise SeedListError(str(exc)) from None
    data = _load_bytes(source)
    problems: list[IngestProblem] = []
    if kind == "parquet":
        rows, problems = _parse_parquet(data, source)
    else:
        text, notice = decode_text(data, source, encoding)
        parse = {"markdown": _parse_markdown, "json": _parse_json, "csv": _parse_csv}[kind]
        rows, problems = parse(text, source)
        if notice is not None:
            problems.insert(0, notice)
    if not rows:
        raise SeedListError(f"{source}: no API rows found. {_WHAT_IS_READ[kind]}")
    entries: list[_Entry] = []
    for row in rows:
        entry, row_problems = _normalize_row(row, source)
        problems.extend(row_problems)
        if entry is not None:
            entries.append(entry)
    if not entries:
        raise SeedListError(
            f"{source}: none of its {len(rows)} API row(s) is usable (each needs a name and a description); "
            f"first problem: {problems[0] if problems else 'none reported'}"
        )
    seeds, rename_problems = _assign_unique_names(entries, source)
    problems.extend(rename_problems)
    problems.sort(key=lambda problem: problem.line if problem.line is not None else 0)
    return seeds, problems


_WHAT_IS_READ = {
    "markdown": "The markdown reader looks for tables with the header "
    "'| API | Description | Auth | HTTPS | CORS |' under a '### Category' heading, as in the "
    "public-apis README.",
    "json": "The JSON reader looks for a list of objects (or {\"entries\": [...]}) with 'API' or 'Name' "
    "and 'Description' keys.",
    "csv": "The CSV reader looks for a header line naming the columns (API or Name, Description, "
    "Auth, HTTPS, Cors, Link, Category) and one line per API under it.",
    "parquet": "The Parquet reader looks for rows with 'API' or 'Name' and 'Description' columns.",
}


def detect_format(source: str, fmt: str | None = None) -> str:
    """The seed list format to read `source` as: `fmt` when given, otherwise its file extension's format."""
    if fmt is not None:
        kind = _FORMAT_ALIASES.get(fmt.strip().lower(), fmt.strip().lower())
        if kind in ACCEPTED_FORMATS:
            return kind
        raise ValueError(
            f"Unknown seed format {fmt!r} for {source}; accepted formats: {', '.join(ACCEPTED_FORMATS)}."
        )
    path = urlsplit(source).path if _is_url(source) else source
    suffix = PurePosixPath(path.replace("\\", "/")).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    raise ValueError(
        f"Cannot tell the seed format of {source} from its extension {suffix or '(none)'!r}; "
        f"accepted formats: {', '.join(ACCEPTED_FORMATS)} "
        f"(extensions {', '.join(sorted(_EXTENSIONS))}); pass the format explicitly."
    )


def _is_url(source: str) -> bool:
    """Whether `source` is an http(s) URL rather than a local path."""
    return urlsplit(source).scheme.lower() in {"http", "https"}


def _load_bytes(source: str) -> bytes:
    """The raw content of a local file or of an http(s) URL (SeedListError when there is none)."""
    if not _is_url(source):
        path = Path(source)
        if not path.is_file():
            where = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise SeedListError(f"seed list not found: {source} {where} (--seeds takes a file or URL)")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise SeedListError(f"cannot read the seed list {source}: {exc.strerror or exc}") from None
    request = urllib.request.Request(source, headers={"User-Agent": "ToolForge seed reader"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
            return response.read()
    except (OSError, http.client.HTTPException) as exc:  # URLError and timeouts are OSErrors
        raise SeedListError(f"could not fetch the seed list {source}: {exc}") from None


def decode_text(data: bytes, source: str, encoding: str | None = None) -> tuple[str, IngestProblem | None]:
    """The text of a seed file, and a notice when its encoding had to be detected.

    `encoding` given: exactly that. Otherwise UTF-8 (a byte-order mark is dropped), else the encoding
    charset-normalizer detects: accepted when every encoding that reads the file with the least mess
    reads it the same way, or when one of them is cp1252 (Western European, a superset of latin-1's
    printable characters, and what spreadsheets save). Anything else is a `SeedListError` naming the
    file, the line and column of the first byte that is not UTF-8, why detection is unsure, and the
    `--seeds-encoding` option.
    """
    if encoding is not None:
        try:
            return data.decode(_codec(encoding, source)), None
        except UnicodeDecodeError as exc:
            raise SeedListError(
                f"{source}:{_position(data, exc.start)}: not valid {encoding}: {exc.reason} "
                f"(byte 0x{data[exc.start]:02x}); check --seeds-encoding"
            ) from None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        where = f"{source}:{_position(data, exc.start)}"
        first_bad = data[exc.start]
    detected, doubt = _detect_encoding(data)
    if detected is None:
        raise SeedListError(
            f"{where}: the seed list is not UTF-8 (byte 0x{first_bad:02x}) and its encoding cannot be "
            f"detected reliably ({doubt}); name it with --seeds-encoding ENCODING "
            "(e.g. --seeds-encoding latin-1, or cp1252 for a spreadsheet saved on Windows)"
        )
    notice = IngestProblem(
        source=source,
        line=None,
        action="kept",
        reason=f"not UTF-8 (first at {where}); read as {detected}, the encoding detected{doubt} "
        "(--seeds-encoding overrides)",
    )
    return data.decode(detected), notice


_WESTERN = "cp1252"


def _codec(encoding: str, source: str) -> str:
    """The Python codec name of `encoding`, or SeedListError for a name Python does not know."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise SeedListError(
            f"unknown encoding {encoding!r} for {source} (--seeds-encoding takes a name such as "
            "utf-8, latin-1, cp1252, utf-16)"
        ) from None


def _detect_encoding(data: bytes) -> tuple[str | None, str]:
    """(encoding, note): the encoding charset-normalizer finds with confidence and a note on the
    alternatives it passed over; or (None, why it is unsure)."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None, "no encoding reads it"
    least = min(m.chaos for m in matches)
    if least > DETECTION_CHAOS_LIMIT:
        return None, f"every encoding tried leaves it garbled (at best {least:.0%} of it)"
    tied = [m for m in matches if m.chaos <= least + _CHAOS_TIE]
    texts = {m.encoding: str(m) for m in tied}
    if len(set(texts.values())) == 1:
        return tied[0].encoding, ""
    western = next((m for m in tied if _WESTERN in m.could_be_from_charset), None)
    others = [m.encoding for m in tied if m is not western]
    if western is not None:
        other = others[0]
        return _WESTERN, f"; {other} would read {_first_difference(texts[other], str(western))}"
    first, second = tied[0].encoding, tied[1].encoding
    return None, f"{first} and {second} read it differently: {_first_difference(texts[first], texts[second])}"


_CHAOS_TIE = 0.01


def _first_difference(text: str, other: str) -> str:
    """Where two readings of a file first differ: `line 3: 'Crčme' for 'Crème'`."""
    for number, (line, other_line) in enumerate(zip(text.splitlines(), other.splitlines(), strict=False), 1):
        if line != other_line:
            pairs = zip(line.split(), other_line.split(), strict=False)
            word, other_word = next(((a, b) for a, b in pairs if a != b), (line, other_line))
            return f"line {number}: {word[:40]!r} for {other_word[:40]!r}"
    return "the same text, differently split"


def _position(data: bytes, offset: int) -> str:
    """`LINE:COLUMN` (1-based, the column counted in bytes) of a byte offset."""
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"{line}:{column}"


# --------------------------------------------------------------------------- markdown


def _parse_markdown(text: str, source: str) -> tuple[list[_Row], list[IngestProblem]]:
    """The API rows of a public-apis style README: rows of `API | Description | Auth | HTTPS | CORS`
    tables that sit under a `### Category` heading. A `#`/`##` heading ends the category."""
    state = _MarkdownState()
    for number, line in enumerate(text.splitlines(), start=1):
        _markdown_line(state, number, line, source)
    return state.rows, state.problems


def _markdown_line(state: _MarkdownState, number: int, line: str, source: str) -> None:
    """Advance the markdown reader by one line."""
    heading = _HEADING.match(line)
    if heading:
        level, title = len(heading.group(1)), heading.group(2).strip()
        state.table = None
        if level <= 2:
            state.category = None
        elif level == 3:
            state.category = title
        return
    if state.category is None:
        return
    stripped = line.strip()
    if state.table is not None and not _is_table_line(stripped):
        state.table = None
        return
    if state.table is None:
        _start_table(state, number, stripped, source)
        return
    if state.table == "api":
        _api_table_line(state, number, stripped, source)


def _is_table_line(stripped: str) -> bool:
    """Whether a stripped line can belong to a markdown table (it has an unescaped pipe)."""
    return bool(_UNESCAPED_PIPE.search(stripped))


def _start_table(state: _MarkdownState, number: int, stripped: str, source: str) -> None:
    """Open a table when the line is a table header: an API table, or another kind, which is reported."""
    if not _is_table_line(stripped):
        return
    cells = _split_cells(stripped)
    if _is_api_header(cells):
        state.table = "api"
        return
    state.table = "other"
    state.problems.append(
        IngestProblem(
            source=source,
            line=number,
            action="skipped",
            reason=(
                f"table under '### {state.category}' is not an API table "
                f"(header {' | '.join(cells)!r}, expected API | Description | Auth | HTTPS | CORS); "
                "its rows are ignored"
            ),
        )
    )


def _api_table_line(state: _MarkdownState, number: int, stripped: str, source: str) -> None:
    """Read one line inside an API table: separator and repeated header lines are passed over."""
    cells = _split_cells(stripped)
    if _is_separator(cells) or _is_api_header(cells):
        return
    while len(cells) > len(_API_COLUMNS) and not cells[-1]:
        cells.pop()
    if len(cells) < len(_API_COLUMNS):
        state.problems.append(
            IngestProblem(
                source=source,
                line=number,
                name=_linked_name(cells[0])[0] if cells else "",
                action="skipped",
                reason=f"expected 5 cells (API, Description, Auth, HTTPS, CORS), found {len(cells)}",
            )
        )
        return
    name, link = _linked_name(cells[0])
    if len(cells) > len(_API_COLUMNS):
        extra = " | ".join(cells[len(_API_COLUMNS) :])
        state.problems.append(
            IngestProblem(
                source=source,
                line=number,
                name=name,
                action="kept",
                reason=f"row has {len(cells)} cells, expected 5; ignored the extra cell(s) {extra!r}",
            )
        )
    description, auth, https, cors = cells[1:5]
    state.rows.append(_Row(number, name, description, auth, https, cors, link, state.category))


def _split_cells(stripped: str) -> list[str]:
    """The trimmed cells of a markdown table line, with optional outer pipes and `\\|` unescaped."""
    body = stripped
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _UNESCAPED_PIPE.split(body)]


def _is_separator(cells: Sequence[str]) -> bool:
    """Whether the cells form a header separator line such as `|---|:---|`."""
    filled = [cell for cell in cells if cell]
    return bool(filled) and all(_SEPARATOR_CELL.fullmatch(cell) for cell in filled)


def _is_api_header(cells: Sequence[str]) -> bool:
    """Whether the cells are the public-apis table header `API | Description | Auth | HTTPS | CORS`."""
    named = [cell.lower() for cell in cells]
    while len(named) > len(_API_COLUMNS) and not named[-1]:
        named.pop()
    return (
        len(named) == len(_API_COLUMNS)
        and named[0] in {"api", "name"}
        and named[1:] == list(_API_COLUMNS[1:])
    )


def _linked_name(cell: str) -> tuple[str, str]:
    """The API name and link from a `[Name](link)` cell; plain text is a name with no link."""
    match = _LINKED_NAME.fullmatch(cell.strip())
    if match is None:
        return cell.strip(), ""
    return match.group("name").strip(), match.group("link").strip()


# --------------------------------------------------------------------------- JSON, CSV, Parquet


def _parse_json(text: str, source: str) -> tuple[list[_Row], list[IngestProblem]]:
    """Rows from a JSON list of objects or an object with an `entries` list; `line` is the 1-based index."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{source}:{exc.lineno}"
        raise SeedListError(f"{where}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    if isinstance(document, Mapping):
        entries = _lookup(document, ("entries",))
        if not isinstance(entries, list):
            raise SeedListError(f"{source}: a JSON object seed list needs an 'entries' list")
        document = entries
    if not isinstance(document, list):
        raise SeedListError(f"{source}: expected a JSON list of objects or {{'entries': [...]}}")
    return _rows_from_records(((index + 1, item) for index, item in enumerate(document)), source)


def _parse_csv(text: str, source: str) -> tuple[list[_Row], list[IngestProblem]]:
    """Rows from CSV with a header line; `line` is the physical line the record starts on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[tuple[int, Mapping[str, Any]]] = []
    last_line = 0
    for cells in reader:
        start, last_line = last_line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = [cell.strip() for cell in cells]
            continue
        records.append((start, dict(zip(header, cells, strict=False))))
    return _rows_from_records(records, source)


def _parse_parquet(data: bytes, source: str) -> tuple[list[_Row], list[IngestProblem]]:
    """Rows from a Parquet table; `line` is the 1-based row index."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several unrelated types for unreadable input
        raise SeedListError(f"{source} is not a readable Parquet file: {exc}") from None
    return _rows_from_records(((index + 1, item) for index, item in enumerate(table.to_pylist())), source)


def _rows_from_records(
    records: Iterable[tuple[int, Any]], source: str
) -> tuple[list[_Row], list[IngestProblem]]:
    """Rows from (line, record) pairs whose keys are matched case-insensitively; non-objects are skipped."""
    rows: list[_Row] = []
    problems: list[IngestProblem] = []
    for line, record in records:
        if not isinstance(record, Mapping):
            problems.append(
                IngestProblem(
                    source=source,
                    line=line,
                    action="skipped",
                    reason=f"expected an object, found {type(record).__name__}",
                )
            )
            continue
        values = {name: _lookup(record, keys) for name, keys in _FIELD_KEYS.items()}
        rows.append(_Row(line=line, **values))
    return rows, problems


def _lookup(record: Mapping[str, Any], keys: Sequence[str]) -> Any:
    """The value of the first of `keys` present in `record`, comparing key names case-insensitively."""
    lowered = {str(key).strip().lower(): value for key, value in record.items()}
    for key in keys:
        if key in lowered:
            return lowered[key]
    return None


# --------------------------------------------------------------------------- normalizing


def _normalize_row(row: _Row, source: str) -> tuple[_Entry | None, list[IngestProblem]]:
    """The normalized entry for a row (None when it must be skipped) and what was noticed about it."""
    name, description = _text(row.name), _text(row.description)
    problems: list[IngestProblem] = []

    def problem(action: _Action, reason: str) -> IngestProblem:
        return IngestProblem(source=source, line=row.line, name=name, action=action, reason=reason)

    if not name:
        return None, [problem("skipped", "empty API name")]
    if not description:
        return None, [problem("skipped", "empty description")]
    category = _text(row.category)
    if not category:
        category = UNCATEGORIZED
        problems.append(problem("kept", f"no category; using {UNCATEGORIZED!r}"))
    https, https_ok = _normalize_https(row.https)
    if not https_ok:
        problems.append(problem("kept", f"unrecognized HTTPS value {_text(row.https)!r}; using None"))
    cors, cors_ok = _normalize_cors(row.cors)
    if not cors_ok:
        problems.append(problem("kept", f"unrecognized CORS value {_text(row.cors)!r}; using 'unknown'"))
    entry = _Entry(
        line=row.line,
        name=name,
        description=description,
        category=category,
        auth=_normalize_auth(row.auth),
        https=https,
        cors=cors,
        link=_text(row.link),
    )
    return entry, problems


def _text(value: Any) -> str:
    """A trimmed string for a cell value; missing values (None, NaN) are ''."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _normalize_auth(value: Any) -> str:
    """The auth kind without markdown backticks ('apiKey', 'OAuth', ...), or '' when none is needed."""
    text = _text(value).strip("`").strip()
    return "" if text.lower() in _NO_AUTH else text


def _normalize_https(value: Any) -> tuple[bool | None, bool]:
    """HTTPS support as True/False/None, and whether the value was recognized (missing is recognized)."""
    if isinstance(value, bool):
        return value, True
    text = _text(value).lower()
    if text in _TRUE_WORDS:
        return True, True
    if text in _FALSE_WORDS:
        return False, True
    return None, not text


def _normalize_cors(value: Any) -> tuple[str, bool]:
    """CORS support as 'yes'/'no'/'unknown', and whether the value was recognized (missing is recognized)."""
    if isinstance(value, bool):
        return ("yes" if value else "no"), True
    text = _text(value).lower()
    if text in _CORS_VALUES:
        return text, True
    return "unknown", not text


# --------------------------------------------------------------------------- unique names and ids


def slugify(name: str) -> str:
    """The `seed_id` form of a name: ASCII, lowercase, others as '-' ('Dog Facts (2)' -> 'dog-facts-2')."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM.sub("-", ascii_name.lower()).strip("-") or "seed"


def _name_key(name: str) -> str:
    """How names are compared for duplicates: trimmed and case-insensitive."""
    return name.strip().casefold()


def _assign_unique_names(entries: Sequence[_Entry], source: str) -> tuple[list[Seed], list[IngestProblem]]:
    """Seeds with unique names (later duplicates become 'Name (2)', 'Name (3)', ...) and unique slugs."""
    original_keys = {_name_key(entry.name) for entry in entries}
    first_seen: dict[str, tuple[str, int | None]] = {}
    next_number: dict[str, int] = {}
    used_slugs: set[str] = set()
    seeds: list[Seed] = []
    problems: list[IngestProblem] = []
    for entry in entries:
        key = _name_key(entry.name)
        name = entry.name
        if key in first_seen:
            name, next_number[key] = _numbered_name(entry.name, next_number.get(key, 2), original_keys)
            first_name, first_at = first_seen[key]
            where = f" (line {first_at})" if first_at is not None else ""
            problems.append(
                IngestProblem(
                    source=source,
                    line=entry.line,
                    name=entry.name,
                    action="renamed",
                    reason=f"duplicate of an earlier {first_name!r}{where}; renamed to {name!r}",
                )
            )
            original_keys.add(_name_key(name))
        else:
            first_seen[key] = (entry.name, entry.line)
        seed_id = _unique_slug(slugify(name), used_slugs)
        seeds.append(_seed(entry, name, seed_id, source))
    return seeds, problems


def _numbered_name(name: str, start: int, taken_keys: set[str]) -> tuple[str, int]:
    """The first 'name (n)' for n >= start whose key is not taken, and the n to try next time."""
    number = start
    while _name_key(f"{name} ({number})") in taken_keys:
        number += 1
    return f"{name} ({number})", number + 1


def _unique_slug(slug: str, used: set[str]) -> str:
    """`slug`, or `slug-2`, `slug-3`, ... if it is already used; records the result as used."""
    candidate, number = slug, 2
    while candidate in used:
        candidate, number = f"{slug}-{number}", number + 1
    used.add(candidate)
    return candidate


def _seed(entry: _Entry, name: str, seed_id: str, source: str) -> Seed:
    """The `Seed` for a normalized entry under its final name and id."""
    return Seed(
        seed_id=seed_id,
        name=name,
        description=entry.description,
        category=entry.category,
        auth=entry.auth,
        https=entry.https,
        cors=entry.cors,
        link=entry.link,
        source=source,
        line=entry.line,
    )


# --------------------------------------------------------------------------- selecting


def select_seeds(
    seeds: Sequence[Seed],
    *,
    limit: int | None = None,
    categories: list[str] | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> list[Seed]:
    """The seeds to use, in file order: those in `categories` (case-insensitive; None or empty = all),
    then a stratified `sample` of that many drawn with `random.Random(seed)`, then the first `limit`."""
    _check_positive("limit", limit)
    _check_positive("sample", sample)
    chosen = list(seeds)
    if categories:
        chosen = _filter_categories(chosen, categories)
    if sample is not None:
        chosen = stratified_sample(chosen, sample, seed=seed)
    if limit is not None:
        chosen = chosen[:limit]
    return chosen


def _check_positive(label: str, value: int | None) -> None:
    """Reject a count below 1 (None means 'not given')."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{label} must be an integer >= 1, got {value!r}")


def _filter_categories(seeds: Sequence[Seed], categories: Sequence[str]) -> list[Seed]:
    """The seeds whose category is one of `categories` (exact names, case-insensitive)."""
    available = _categories_in_order(seeds)
    known = {category.casefold() for category in available}
    unknown = [category for category in categories if category.strip().casefold() not in known]
    if unknown:
        noun = "category" if len(unknown) == 1 else "categories"
        raise InputError(
            f"--categories: unknown {noun} {', '.join(map(repr, unknown))}; available: {', '.join(available)}"
        )
    wanted = {category.strip().casefold() for category in categories}
    return [s for s in seeds if s.category.casefold() in wanted]


def _categories_in_order(seeds: Iterable[Seed]) -> list[str]:
    """The distinct categories of `seeds`, in order of first appearance."""
    return list(dict.fromkeys(s.category for s in seeds))


def stratified_sample(seeds: Sequence[Seed], n: int, *, seed: int = 0) -> list[Seed]:
    """`n` seeds drawn per category in proportion to its size (largest remainder; each category gets
    at least one when `n` covers them all), reproducible for `seed`, returned in original order."""
    _check_positive("sample", n)
    if n >= len(seeds):
        return list(seeds)
    rng = random.Random(seed)
    groups = _group_indices(seeds)
    quotas = _allocate(n, [len(indices) for indices in groups.values()], rng)
    picked: list[int] = []
    for indices, quota in zip(groups.values(), quotas, strict=True):
        picked.extend(rng.sample(indices, quota))
    return [seeds[index] for index in sorted(picked)]


def _group_indices(seeds: Sequence[Seed]) -> dict[str, list[int]]:
    """Seed positions grouped by category, categories in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(seeds):
        groups.setdefault(item.category, []).append(index)
    return groups


def _allocate(n: int, sizes: Sequence[int], rng: random.Random) -> list[int]:
    """Split `n` over groups of `sizes` proportionally by largest remainder (ties: larger group, then
    a draw from `rng`); when `n` >= the number of groups, no group is left at zero."""
    total = sum(sizes)
    tiebreak = list(range(len(sizes)))
    rng.shuffle(tiebreak)
    quotas = [n * size // total for size in sizes]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(n * sizes[i] % total), -sizes[i], tiebreak[i]))
    for i in by_remainder[: n - sum(quotas)]:
        quotas[i] += 1
    if n >= len(sizes):
        _fill_empty_groups(quotas, sizes, n, tiebreak)
    return quotas


def _fill_empty_groups(quotas: list[int], sizes: Sequence[int], n: int, tiebreak: Sequence[int]) -> None:
    """Give each group that got no draw one, taken from the group most above its exact share, in place."""
    total = sum(sizes)
    empty = sorted(
        (i for i, quota in enumerate(quotas) if quota == 0), key=lambda i: (-sizes[i], tiebreak[i])
    )
    for i in empty:
        donor = max(
            (j for j, quota in enumerate(quotas) if quota > 1),
            key=lambda j: (quotas[j] * total - n * sizes[j], -tiebreak[j]),
        )
        quotas[donor] -= 1
        quotas[i] += 1


# --------------------------------------------------------------------------- defaults and reporting


def default_seeds_path() -> str:
    """The path of ToolForge's own small seed list (public-apis markdown format)."""
    return str(Path(__file__).resolve().parent / "seed_data" / "default_seeds.md")


def summarize_problems(problems: Sequence[IngestProblem]) -> str:
    """A short report for people: counts by action, then one line per problem."""
    if not problems:
        return "No ingest problems."
    counts = Counter(problem.action for problem in problems)
    by_action = ", ".join(
        f"{counts[action]} {action}" for action in ("skipped", "renamed", "kept") if counts[action]
    )
    noun = "problem" if len(problems) == 1 else "problems"
    return "\n".join(
        [f"{len(problems)} ingest {noun}: {by_action}", *(f"  {problem}" for problem in problems)]
    )
