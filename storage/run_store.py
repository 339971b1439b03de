"""Versioned run storage: each run writes its Parquet artifacts and manifest under `<out>/runs/<run_id>/`.

Layout, for `out` a local path or any fsspec URL (`s3://bucket/toolforge`, `memory://tests`):

    <out>/latest                        the id of the latest published run (a one-line text file)
    <out>/runs/<run_id>/<name>.parquet  one artifact per `write_records` call
    <out>/runs/<run_id>/manifest.json   the run's `Manifest`

Every file is written atomically: serialized to bytes in memory, written to a hidden temporary
sibling (`.<name>.tmp-<uuid>`), then renamed onto its final name, so a reader never sees a partial
file. `publish()` moves `latest` and is the last write of a run, so `latest` only ever names a run
whose artifacts and manifest are complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem
from pydantic import BaseModel

from schemas.arrow import from_table, to_table
from schemas.manifest import ArtifactInfo, Manifest

MANIFEST = "manifest.json"
LATEST = "latest"
RUNS = "runs"
PARQUET_COMPRESSION = "zstd"
M = TypeVar("M", bound=BaseModel)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


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

    def has_artifact(self, run_id: str, name: str) -> bool:
        """Whether the run wrote the artifact `<name>.parquet`."""
        _check_name(name, "artifact name")
        return bool(self.fs.exists(posixpath.join(self._run_path(run_id), f"{name}.parquet")))

    def check_writable(self) -> None:
        """OSError unless runs can be written here: the output folder is made if need be, and a file
        written to it and removed."""
        self.fs.makedirs(self.root, exist_ok=True)
        probe = posixpath.join(self.root, f".write-check-{uuid.uuid4().hex}")
        self.fs.pipe_file(probe, b"")
        self.fs.rm_file(probe)

    def read_table(self, run_id: str, name: str) -> pa.Table:
        """The artifact `<name>.parquet` of a run, as an Arrow table."""
        _check_name(name, "artifact name")
        data = self.fs.cat_file(posixpath.join(self._run_path(run_id), f"{name}.parquet"))
        return pq.read_table(pa.BufferReader(data))

    def read_records(self, run_id: str, name: str, model: type[M]) -> list[M]:
        """The artifact `<name>.parquet` of a run, as `model` records."""
        return from_table(model, self.read_table(run_id, name))

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


class RunWriter:
    """Writes one run: its artifacts, its manifest, and finally the `latest` pointer (`publish`)."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.run_dir = store.run_dir(run_id)
        self.artifacts: dict[str, ArtifactInfo] = {}
        self._manifest: Manifest | None = None
        self._published = False

    def __repr__(self) -> str:
        return f"RunWriter({self.run_dir!r})"

    def write_records(self, name: str, model: type[M], records: Sequence[M]) -> ArtifactInfo:
        """Write `records` as `<name>.parquet` with the schema of `model`; remember and return its info.

        Writing a name again replaces the file and its info.
        """
        _check_name(name, "artifact name")
        self._check_open()
        table = to_table(model, records)
        info = self._write(f"{name}.parquet", _parquet_bytes(table), rows=table.num_rows)
        self.artifacts[name] = info
        self._manifest = None
        return info

    def write_manifest(self, manifest: Manifest) -> Manifest:
        """Write `manifest.json`, with the artifacts this writer wrote added; return the manifest written."""
        self._check_open()
        if manifest.run_id != self.run_id:
            raise ValueError(f"manifest is for run {manifest.run_id!r}, this writer is for {self.run_id!r}")
        manifest = manifest.model_copy(update={"artifacts": {**manifest.artifacts, **self.artifacts}})
        self._write(MANIFEST, manifest.model_dump_json(indent=2).encode("utf-8") + b"\n", rows=None)
        self._manifest = manifest
        return manifest

    def publish(self) -> None:
        """Point `<out>/latest` at this run; the last write of a run (the writer refuses any write after it).

        Only a run whose manifest was written after its last artifact, with status "completed", is
        published, so `latest` always names a complete, successful run.
        """
        self._check_open()
        if self._manifest is None:
            raise RuntimeError(
                f"run {self.run_id}: write the manifest (after the last artifact) before publish()"
            )
        if self._manifest.status != "completed":
            raise RuntimeError(f"run {self.run_id}: status is {self._manifest.status!r}, not 'completed'")
        self.store._write_atomic(posixpath.join(self.store.root, LATEST), f"{self.run_id}\n".encode())
        self._published = True

    def _write(self, filename: str, data: bytes, rows: int | None) -> ArtifactInfo:
        """Write one file of the run atomically; its info (rows is 0 for non-tables)."""
        self.store._write_atomic(posixpath.join(self.store._run_path(self.run_id), filename), data)
        return ArtifactInfo(
            path=filename, rows=rows or 0, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)
        )

    def _check_open(self) -> None:
        """RuntimeError if the run was already published."""
        if self._published:
            raise RuntimeError(f"run {self.run_id} was published: it takes no more writes")


def _parquet_bytes(table: pa.Table) -> bytes:
    """`table` as the bytes of a Parquet file."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=PARQUET_COMPRESSION)
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
