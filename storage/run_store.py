"""Versioned run storage: each run streams its Parquet artifacts in parts, and its manifest, under
`<out>/runs/<run_id>/`.

Layout, for `out` a local path or any fsspec URL (`s3://bucket/toolforge`, `memory://tests`):

    <out>/latest                                    the id of the latest published run (one line)
    <out>/runs/<run_id>/<name>/part-00000.parquet   an artifact's parts, numbered in the order written
    <out>/runs/<run_id>/manifest.json               the run's `Manifest`, rewritten as it goes

An artifact is a folder of parts: `pd.read_parquet("<run>/<name>")` and
`datasets.load_dataset("parquet", data_files="<run>/<name>/*.parquet")` read it as one table, and
`RunStore.read_records` does for the factory. A `PartWriter` buffers records and writes a part
every `rows` records or `seconds` seconds, whichever comes first, so a run holds only the open
part's buffer and a crash loses at most that. A unit added at once (one tool's instructions, say) is
never split across parts.

Every file is written atomically: serialized to bytes in memory, written to a hidden temporary
sibling (`.<name>.tmp-<uuid>`, which readers skip), then renamed onto its final name, so a reader
never sees a partial file (a part written again, by `PartWriter.replace`, is replaced the same way).
`publish()` moves `latest` and is the last write of a run, so `latest`
only ever names a run whose artifacts and manifest are complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Generic, TypeVar

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem
from pydantic import BaseModel

from schemas.arrow import arrow_schema, from_table, to_table
from schemas.errors import InputError
from schemas.manifest import ArtifactInfo, Manifest, PartInfo

MANIFEST = "manifest.json"
LATEST = "latest"
RUNS = "runs"
PARQUET_COMPRESSION = "zstd"
PART_ROWS = 1000
"""Records per part, at most (a part is also written after `PART_SECONDS` with records waiting)."""
PART_SECONDS = 10.0
M = TypeVar("M", bound=BaseModel)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PART = re.compile(r"^part-(\d{5,})\.parquet$")


def conformed(model: type[BaseModel], table: pa.Table) -> pa.Table:
    """A part's table with `model`'s schema. A part written by an earlier version may lack columns
    or nested fields added since, or hold a column under an older name or values in an older
    spelling: its rows are read as records (the new fields take their defaults, and the model reads
    the old names and spellings into today's: a rejected tool's `stage` becomes its `step` and
    `rule`, the failure rules `llm` and `task` become `llm_error` and `task_failed`) and written back
    with the schema of today."""
    schema = arrow_schema(model)
    try:
        return table.select(schema.names).cast(schema)
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return to_table(model, from_table(model, table))


class RunStore:
    """The runs under one output root (a local path, `~` allowed, or an fsspec URL)."""

    def __init__(self, out: str) -> None:
        if "://" not in out:
            out = os.path.abspath(os.path.expanduser(out))
        self.out = out.rstrip("/") or out
        self.fs, self.root = fsspec.core.url_to_fs(self.out)

    def __repr__(self) -> str:
        return f"RunStore({self.out!r})"

    @staticmethod
    def new_run_id() -> str:
        """A fresh run id: the UTC time as `YYYYMMDDTHHMMSSZ`, "-", 6 random hex digits; ids sort by time."""
        return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"

    def start_run(self, run_id: str | None = None) -> RunWriter:
        """A writer for a new run (a fresh id if none is given); FileExistsError if the run already exists."""
        run_id = run_id or self.new_run_id()
        _check_name(run_id, "run id")
        path = self._run_path(run_id)
        if self.fs.exists(path) and self.fs.ls(path, detail=False):
            raise FileExistsError(f"run {run_id!r} already exists in {self.out}")
        self.fs.makedirs(path, exist_ok=True)
        return RunWriter(self, run_id)

    def resume_run(self, run_id: str) -> RunWriter:
        """A writer that continues an existing run in place (its parts are kept and numbered on)."""
        _check_name(run_id, "run id")
        if run_id not in self.list_runs():
            raise FileNotFoundError(f"no run {run_id!r} in {self.out}")
        return RunWriter(self, run_id)

    def part_info(self, run_id: str, path: str) -> PartInfo:
        """The info of one existing part (`path` inside `self.fs`): rows, sha256 and bytes."""
        data = self.fs.cat_file(path)
        rows = pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows
        relative = posixpath.relpath(path, self._run_path(run_id))
        return PartInfo(path=relative, rows=rows, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))

    def run_dir(self, run_id: str) -> str:
        """Where a run's files are: `<out>/runs/<run_id>` (a local path or a URL, like `out`)."""
        _check_name(run_id, "run id")
        return f"{self.out}/{RUNS}/{run_id}"

    def latest_run_id(self) -> str | None:
        """The id of the latest published run, or None if no run was published yet."""
        try:
            text = self.fs.cat_file(posixpath.join(self.root, LATEST)).decode("utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def list_runs(self) -> list[str]:
        """The ids of all runs (published or not), sorted (so oldest first for generated ids)."""
        runs = posixpath.join(self.root, RUNS)
        try:
            entries = self.fs.ls(runs, detail=True)
        except FileNotFoundError:
            return []
        names = (posixpath.basename(e["name"].rstrip("/")) for e in entries if e["type"] == "directory")
        return sorted(name for name in names if _SAFE_NAME.match(name))

    def check_writable(self) -> None:
        """OSError unless runs can be written here: the output folder is made if need be, and a file
        written to it and removed."""
        self.fs.makedirs(self.root, exist_ok=True)
        probe = posixpath.join(self.root, f".write-check-{uuid.uuid4().hex}")
        self.fs.pipe_file(probe, b"")
        self.fs.rm_file(probe)

    def part_paths(self, run_id: str, name: str) -> list[str]:
        """The parts of artifact `name` of a run, in the order written (paths inside `self.fs`); a run
        written before artifacts were folders has the single file `<name>.parquet`."""
        _check_name(name, "artifact name")
        folder = posixpath.join(self._run_path(run_id), name)
        try:
            entries = self.fs.ls(folder, detail=False)
        except FileNotFoundError:
            entries = []
        parts = sorted(p for p in entries if _PART.match(posixpath.basename(p.rstrip("/"))))
        if parts:
            return parts
        single = f"{folder}.parquet"
        return [single] if self.fs.exists(single) else []

    def has_artifact(self, run_id: str, name: str) -> bool:
        """Whether the run wrote any part of the artifact `name`."""
        return bool(self.part_paths(run_id, name))

    def read_table(self, run_id: str, name: str, model: type[BaseModel] | None = None) -> pa.Table:
        """The artifact `name` of a run, all its parts as one Arrow table (with `model`'s schema when
        given: an artifact with no part is then an empty table, else a FileNotFoundError)."""
        paths = self.part_paths(run_id, name)
        tables = [pq.read_table(pa.BufferReader(self.fs.cat_file(path))) for path in paths]
        if not tables:
            if model is None:
                raise FileNotFoundError(f"run {run_id} has no artifact {name!r} in {self.out}")
            return arrow_schema(model).empty_table()
        if model is not None:
            tables = [conformed(model, table) for table in tables]
        return pa.concat_tables(tables)

    def read_records(self, run_id: str, name: str, model: type[M]) -> list[M]:
        """The artifact `name` of a run, as `model` records (none when it has no part yet)."""
        return from_table(model, self.read_table(run_id, name, model))

    def read_part(self, path: str, model: type[M]) -> list[M]:
        """One part (a path from `part_paths`) as `model` records."""
        table = pq.read_table(pa.BufferReader(self.fs.cat_file(path)))
        return from_table(model, conformed(model, table))

    def iter_records(self, run_id: str, name: str, model: type[M]) -> Iterator[M]:
        """The records of an artifact, one part in memory at a time."""
        for path in self.part_paths(run_id, name):
            yield from self.read_part(path, model)

    def iter_records_where(
        self, run_id: str, name: str, model: type[M], column: str, values: Iterable[str]
    ) -> Iterator[M]:
        """The records of an artifact whose `column` (a text column) holds one of `values`, part by
        part; a part that holds none is not read beyond that column."""
        wanted = pa.array(sorted(set(values)), type=pa.string())
        if not len(wanted):
            return
        schema = arrow_schema(model)
        for path in self.part_paths(run_id, name):
            part = pq.ParquetFile(pa.BufferReader(self.fs.cat_file(path)))
            if not pc.any(pc.is_in(part.read(columns=[column])[column], value_set=wanted)).as_py():
                continue
            table = part.read()
            table = table.filter(pc.is_in(table[column], value_set=wanted))
            yield from from_table(model, table.select(schema.names).cast(schema))

    def read_column(self, run_id: str, name: str, column: str) -> list[object]:
        """One column of an artifact, part by part (what a resumed run needs: the ids already done)."""
        values: list[object] = []
        for path in self.part_paths(run_id, name):
            table = pq.read_table(pa.BufferReader(self.fs.cat_file(path)), columns=[column])
            values += table.column(column).to_pylist()
        return values

    def write_file(self, run_id: str, filename: str, data: bytes, rows: int | None = None) -> PartInfo:
        """Write a file of run `run_id` atomically (`filename` relative to its folder): a view made
        from the run, such as its HTML report, which may be written again after the run was published."""
        _check_name(posixpath.basename(filename), "file name")
        self._write_atomic(posixpath.join(self._run_path(run_id), filename), data)
        digest = hashlib.sha256(data).hexdigest()
        return PartInfo(path=filename, rows=rows or 0, sha256=digest, bytes=len(data))

    def read_file(self, run_id: str, filename: str) -> bytes:
        """A file of run `run_id` (`filename` relative to its folder): a view written by `write_file`."""
        return self.fs.cat_file(posixpath.join(self._run_path(run_id), filename))

    def read_manifest(self, run_id: str) -> Manifest:
        """The manifest of a run."""
        data = self.fs.cat_file(posixpath.join(self._run_path(run_id), MANIFEST))
        return Manifest.model_validate_json(data)

    def _run_path(self, run_id: str) -> str:
        """A run's directory as a path inside `self.fs`."""
        _check_name(run_id, "run id")
        return posixpath.join(self.root, RUNS, run_id)

    def _write_atomic(self, path: str, data: bytes) -> None:
        """Write `data` to `path` (a path inside `self.fs`) so that `path` is either absent, old, or complete.

        The bytes go to a hidden temporary sibling, which is renamed onto `path`; if anything fails,
        the temporary file is removed (best effort) and the error re-raised.
        """
        parent, name = posixpath.split(path)
        temp = posixpath.join(parent, f".{name}.tmp-{uuid.uuid4().hex}")
        self.fs.makedirs(parent, exist_ok=True)
        try:
            if isinstance(self.fs, LocalFileSystem):
                _write_local(temp, data)
                os.replace(temp, path)
            else:
                self.fs.pipe_file(temp, data)
                self.fs.mv(temp, path)
        except BaseException:
            with contextlib.suppress(Exception):
                if self.fs.exists(temp):
                    self.fs.rm_file(temp)
            raise


class PartWriter(Generic[M]):
    """Streams the records of one artifact to its folder: a part every `rows` records or `seconds`
    seconds (checked by `add` and `flush_if_due`), whichever comes first. Thread-safe."""

    def __init__(self, writer: RunWriter, name: str, model: type[M], rows: int, seconds: float) -> None:
        self.writer, self.name, self.model = writer, name, model
        self.rows_per_part, self.seconds = rows, seconds
        self.info = ArtifactInfo(path=name)
        self._buffer: list[M] = []
        self._since = 0.0
        self._lock = threading.Lock()
        self._next = 0
        for path in writer.store.part_paths(writer.run_id, name):  # a resumed run continues the numbering
            found = _PART.match(posixpath.basename(path))
            if found:
                self._next = max(self._next, int(found.group(1)) + 1)
                self.info = _with_part(self.info, writer.store.part_info(writer.run_id, path))

    @property
    def pending(self) -> int:
        """Records added and not yet written."""
        return len(self._buffer)

    def add(self, records: Sequence[M]) -> PartInfo | None:
        """Add records (kept together in one part); the part written, if this filled one."""
        if not records:
            return None
        with self._lock:
            if not self._buffer:
                self._since = time.monotonic()
            self._buffer.extend(records)
            if len(self._buffer) < self.rows_per_part:
                return None
            return self._write()

    def flush_if_due(self) -> PartInfo | None:
        """Write the waiting records if the oldest has waited `seconds`."""
        with self._lock:
            if self._buffer and time.monotonic() - self._since >= self.seconds:
                return self._write()
        return None

    def flush(self, *, empty: bool = False) -> PartInfo | None:
        """Write the waiting records now (with `empty`, an empty part when the artifact has none yet,
        so that readers find its columns)."""
        with self._lock:
            if self._buffer or (empty and not self.info.parts):
                return self._write()
        return None

    def replace(self, path: str, records: Sequence[M]) -> PartInfo:
        """Write part `path` (as in the manifest: `<name>/part-00003.parquet`) again, holding `records`
        (what remains of it once some records were moved out: the corpus-wide dedup's, say)."""
        with self._lock:
            if path not in {part.path for part in self.info.parts}:
                raise ValueError(f"artifact {self.name!r} has no part {path!r}")
            table = to_table(self.model, list(records))
            part = self.writer.write_file(path, _parquet_bytes(table), rows=table.num_rows)
            parts = [part if p.path == path else p for p in self.info.parts]
            self.info = ArtifactInfo(
                path=self.info.path,
                rows=sum(p.rows for p in parts),
                bytes=sum(p.bytes for p in parts),
                parts=parts,
            )
            self.writer.part_written(self)
            return part

    def _write(self) -> PartInfo:
        records, self._buffer = self._buffer, []
        table = to_table(self.model, records)
        path = f"{self.name}/part-{self._next:05d}.parquet"
        part = self.writer.write_file(path, _parquet_bytes(table), rows=table.num_rows)
        self._next += 1
        self.info = _with_part(self.info, part)
        self.writer.part_written(self)
        return part


class RunWriter:
    """Writes one run: its artifacts in parts, its manifest, and finally the `latest` pointer (`publish`)."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.run_dir = store.run_dir(run_id)
        self._parts: dict[str, PartWriter] = {}
        self._manifest: Manifest | None = None
        self._published = False
        self._new_parts = 0

    def __repr__(self) -> str:
        return f"RunWriter({self.run_dir!r})"

    @property
    def artifacts(self) -> dict[str, ArtifactInfo]:
        """What the run has written so far, by artifact name."""
        return {name: writer.info for name, writer in self._parts.items() if writer.info.parts}

    def parts(
        self, name: str, model: type[M], *, rows: int = PART_ROWS, seconds: float = PART_SECONDS
    ) -> PartWriter[M]:
        """The part writer of artifact `name` (made on first use; a resumed run's parts are kept)."""
        _check_name(name, "artifact name")
        self._check_open()
        if name not in self._parts:
            self._parts[name] = PartWriter(self, name, model, rows, seconds)
        return self._parts[name]

    def write_records(self, name: str, model: type[M], records: Sequence[M]) -> ArtifactInfo:
        """Write `records` as artifact `name` at once (one part; an empty one when there are none)."""
        writer = self.parts(name, model)
        writer.add(records)
        writer.flush(empty=True)
        return writer.info

    def flush_due(self) -> int:
        """Write the parts whose time has come; how many parts were written since the last call."""
        for writer in list(self._parts.values()):
            writer.flush_if_due()
        written, self._new_parts = self._new_parts, 0
        return written

    def close_parts(self) -> None:
        """Write every waiting record, and an empty part for each artifact that has none."""
        for writer in list(self._parts.values()):
            writer.flush(empty=True)

    def part_written(self, writer: PartWriter) -> None:
        self._manifest = None
        self._new_parts += 1

    def write_manifest(self, manifest: Manifest) -> Manifest:
        """Write `manifest.json`, with the artifacts written so far and the time; return it as written."""
        self._check_open()
        if manifest.run_id != self.run_id:
            raise ValueError(f"manifest is for run {manifest.run_id!r}, this writer is for {self.run_id!r}")
        update = {"artifacts": {**manifest.artifacts, **self.artifacts}, "updated_at": datetime.now(UTC)}
        manifest = manifest.model_copy(update=update)
        self.write_file(MANIFEST, manifest.model_dump_json(indent=2).encode("utf-8") + b"\n", rows=None)
        self._manifest = manifest
        return manifest

    def publish(self) -> None:
        """Point `<out>/latest` at this run; the last write of a run (the writer refuses any write after it).

        Only a run whose manifest was written after its last part, with status "completed", is
        published, so `latest` always names a complete, successful run.
        """
        self._check_open()
        if self._manifest is None or any(w.pending for w in self._parts.values()):
            raise RuntimeError(f"run {self.run_id}: write every part, then the manifest, before publish()")
        if self._manifest.status != "completed":
            raise RuntimeError(f"run {self.run_id}: status is {self._manifest.status!r}, not 'completed'")
        self.store._write_atomic(posixpath.join(self.store.root, LATEST), f"{self.run_id}\n".encode())
        self._published = True

    def write_file(self, filename: str, data: bytes, rows: int | None) -> PartInfo:
        """Write one file of the run atomically (`filename` relative to the run folder); its info."""
        self._check_open()
        return self.store.write_file(self.run_id, filename, data, rows)

    def _check_open(self) -> None:
        """RuntimeError if the run was already published."""
        if self._published:
            raise RuntimeError(f"run {self.run_id} was published: it takes no more writes")


def resolve_run(run: str, out_dir: str) -> tuple[RunStore, str]:
    """The store and run id RUN names: a run id or `latest` in the store at `out_dir`, or a run folder
    (`<out>/runs/<run id>`, a local path or URL); InputError when there is no such run."""
    if run != "latest" and ("/" in run or os.sep in run or os.path.isdir(run)):
        url = "://" in run
        paths = posixpath if url else os.path
        folder = run.rstrip("/") if url else os.path.abspath(os.path.expanduser(run))
        runs, run_id = paths.split(folder)
        out, runs_name = paths.split(runs)
        if runs_name != RUNS:
            raise InputError(f"{run} is not a run folder: give <out>/{RUNS}/<run id>, a run id or latest")
        store = RunStore(out)
    else:
        store = RunStore(out_dir)
        run_id = store.latest_run_id() if run == "latest" else run
        if run_id is None:
            raise InputError(f"no published run in {store.out}: name a run id or a run folder")
    runs_found = store.list_runs()
    if run_id not in runs_found:
        latest = ", ".join(runs_found[-5:]) or "none"
        raise InputError(f"no run {run_id!r} in {store.out} (latest runs: {latest})")
    return store, run_id


def _with_part(info: ArtifactInfo, part: PartInfo) -> ArtifactInfo:
    return info.model_copy(
        update={"rows": info.rows + part.rows, "bytes": info.bytes + part.bytes, "parts": [*info.parts, part]}
    )


def _parquet_bytes(table: pa.Table) -> bytes:
    """`table` as the bytes of a Parquet file. An empty table is written with no row group at all:
    readers find its columns, and `datasets` (which takes the first row group's size as its batch
    size) reads it as no rows instead of failing on a row group of 0."""
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, compression=PARQUET_COMPRESSION) as writer:
        if table.num_rows:
            writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _write_local(path: str, data: bytes) -> None:
    """Write `data` to a new local file and flush it to disk."""
    with open(path, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _check_name(name: str, what: str) -> None:
    """ValueError unless `name` is a safe single path component (letters, digits, `._-`, not hidden)."""
    if not _SAFE_NAME.match(name):
        raise ValueError(f"invalid {what} {name!r}: use letters, digits, '.', '_', '-'; don't start with '.'")
