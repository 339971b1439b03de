"""Writing an export's files: streamed, checksummed, atomic (a temporary sibling renamed onto the
final name), so a reader never sees half a file and a run of any size exports in bounded memory."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from schemas.export import ExportFile, SplitName


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary file at `path`, in place only once the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        with open(temporary, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def file_info(folder: Path, path: Path, rows: int, split: SplitName | None) -> ExportFile:
    """The `ExportFile` of a file written under `folder`."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    relative = path.relative_to(folder).as_posix()
    return ExportFile(
        path=relative, split=split, rows=rows, sha256=digest.hexdigest(), bytes=path.stat().st_size
    )


def write_jsonl(
    folder: Path, name: str, rows: Iterable[dict[str, Any]], split: SplitName | None
) -> ExportFile:
    """`rows` as JSON Lines (UTF-8, one object per line) at `folder/name`."""
    path, count = folder / name, 0
    with atomic_file(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
            count += 1
    return file_info(folder, path, count, split)


def write_json_list(
    folder: Path, name: str, rows: Iterable[dict[str, Any]], split: SplitName | None
) -> ExportFile:
    """`rows` as one JSON list at `folder/name`, a row a line, streamed."""
    path, count = folder / name, 0
    with atomic_file(path) as handle:
        handle.write(b"[")
        for row in rows:
            handle.write((",\n" if count else "\n").encode() + json.dumps(row, ensure_ascii=False).encode())
            count += 1
        handle.write(b"\n]\n")
    return file_info(folder, path, count, split)


def write_json(folder: Path, name: str, value: Any, rows: int, split: SplitName | None = None) -> ExportFile:
    """`value` as one indented JSON document at `folder/name`."""
    path = folder / name
    with atomic_file(path) as handle:
        handle.write(json.dumps(value, ensure_ascii=False, indent=2).encode() + b"\n")
    return file_info(folder, path, rows, split)


def write_text(folder: Path, name: str, text: str) -> ExportFile:
    path = folder / name
    with atomic_file(path) as handle:
        handle.write(text.encode())
    return file_info(folder, path, 0, None)
