"""A disk cache of LLM answers, keyed by everything that can change an answer.

One JSON file per answer under `<dir>/<k[:2]>/<k>.json`, written to a temporary file and renamed
into place, so a killed process never leaves a partial entry. Entries are not fsynced: after a crash
of the machine itself an entry may read back empty, and an unreadable entry counts as a miss (the
call is made again), so durability would buy nothing for its cost on every call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def cache_key(material: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the key material."""
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class LLMCache:
    """Answers on disk: `get` returns the stored entry or None, `put` stores one atomically.

    Paths are plain strings and files plain `open`s: a lookup and a store come with every LLM call, in
    the process whose CPU bounds the run (pathlib's objects cost it more than the system calls do)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = os.fspath(Path(directory).expanduser())
        self._made: set[str] = set()  # subfolders known to exist: one mkdir per folder, not per put

    def _folder(self, key: str) -> str:
        return f"{self.directory}/{key[:2]}"

    def _path(self, key: str) -> str:
        return f"{self._folder(key)}/{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            with open(path, encoding="utf-8") as handle:
                entry = json.loads(handle.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache entry %s: %s", path, exc)
            return None
        return entry if isinstance(entry, dict) and "content" in entry else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        folder, path = self._folder(key), self._path(key)
        text = json.dumps(entry, ensure_ascii=False)  # one shot: C's encoder, not json.dump's chunks
        # unique per process and thread: concurrent writers of one key (Dask workers) never share it
        tmp = f"{folder}/.{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            if key[:2] not in self._made:
                os.makedirs(folder, exist_ok=True)
                self._made.add(key[:2])
            try:
                _write(tmp, text)
            except FileNotFoundError:  # the folder was removed under us (a cleared cache): make it again
                os.makedirs(folder, exist_ok=True)
                _write(tmp, text)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
