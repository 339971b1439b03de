"""Versions of the code that produced a result: for manifests and for task cache keys."""

from __future__ import annotations

import hashlib
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@cache
def source_hash(*relative: str) -> str:
    """sha256 (12 hex) over the named files and folders' .py/.txt files, so edits change cache keys."""
    digest = hashlib.sha256()
    for rel in relative:
        base = ROOT / rel
        files = sorted(base.rglob("*")) if base.is_dir() else [base]
        for path in files:
            if path.is_file() and path.suffix in {".py", ".txt"} and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@cache
def code_version() -> str:
    """`<git commit>[-dirty]` when run from a checkout, plus the hash of the package sources."""
    sources = source_hash("agents", "tasks", "schemas", "flows", "storage")
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"{commit}{'-dirty' if dirty else ''}+src.{sources}"
    except (OSError, subprocess.SubprocessError):
        return f"src.{sources}"
