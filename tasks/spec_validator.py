"""OpenAPI validation in a helper process, off the GIL that the threads waiting on LLM answers share.

openapi-spec-validator spends milliseconds of pure-Python CPU on every spec; in the flow's process that
CPU holds the GIL and delays every thread whose LLM answer has just arrived (figures in
bench/README.md). `spec_problems(spec)` sends the spec to one long-lived helper
(`python -m tasks.spec_validator`), a JSON line each way, and reads back what
`tasks.openapi.spec_problems` says. If the helper cannot start or breaks, the spec is validated
in-process instead: the answer is the same, only the CPU moves.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from tasks import openapi

log = logging.getLogger(__name__)

MAX_STARTS = 3  # after this many helpers have broken, validate in-process for the rest of the run
_ROOT = Path(__file__).resolve().parents[1]


class SpecValidator:
    """One helper process, started on first use; callers take turns (a spec takes a few ms)."""

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or [sys.executable, "-m", "tasks.spec_validator"]
        self.starts = 0
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def problems(self, spec: dict[str, Any], text: str | None = None) -> list[str]:
        """`tasks.openapi.spec_problems(spec)`, computed in the helper when it is usable. `text`: the
        spec as JSON text already (`json.dumps(spec)`, on one line), sent as it is."""
        line = json.dumps(spec) if text is None else text
        with self._lock:
            answer = self._ask(line)
        if answer is None or "error" in answer:  # no helper, or the check itself raised: rerun it here
            return openapi.spec_problems(spec)
        return list(answer["problems"])

    def _ask(self, line: str) -> dict[str, Any] | None:
        process = self._running()
        if process is None:
            return None
        stdin, stdout = process.stdin, process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(line + "\n")
            stdin.flush()
            line = stdout.readline()
            if not line:
                raise OSError(f"exited with status {process.wait()}")
            return json.loads(line)
        except (OSError, ValueError) as exc:
            log.warning("spec validator helper failed (%s); validating in-process", exc)
            self.close()
            return None

    def _running(self) -> subprocess.Popen[str] | None:
        if self._process is not None and self._process.poll() is None:
            return self._process
        if self.starts >= MAX_STARTS:
            return None
        self.starts += 1
        path = os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, PYTHONPATH=path, PYTHONIOENCODING="utf-8")  # a spec's text is not ASCII
        try:
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                encoding="utf-8",
                env=env,
                cwd=_ROOT,
            )
        except OSError as exc:
            log.warning("cannot start the spec validator helper (%s); validating in-process", exc)
            return None
        return self._process

    def close(self) -> None:
        """Stop the helper (a later call starts a new one)."""
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_validator = SpecValidator()
atexit.register(_validator.close)


def spec_problems(spec: dict[str, Any], text: str | None = None) -> list[str]:
    """openapi-spec-validator's complaints about the spec (empty when valid), from the helper process
    (`text`: the spec's JSON text, when the caller has it: the spec is not serialized twice)."""
    return _validator.problems(spec, text)


def serve(lines: IO[str], out: IO[str]) -> None:
    """The helper's loop: a spec per input line; `{"problems": [...]}` or `{"error": ...}` per output line."""
    for line in lines:
        try:
            answer: dict[str, Any] = {"problems": openapi.spec_problems(json.loads(line))}
        except Exception as exc:  # reported, and the caller reruns the check to get the real exception
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
