"""The test session's Prefect server: one temporary server and database (Prefect's own test harness),
named in this process's settings and, through `PREFECT_API_URL`, in the environment of every child
process a test starts, so that no run starts a server of its own.

A run in a child process sends its task runs to the server and exits; the server records them at
its own pace, so a test that reads them waits until they are there (`PrefectServer.task_runs`).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")
RECORDED_WITHIN_S = 300.0
"""How long a test waits for the server to record a child's task runs: far beyond what a quiet
machine needs (about a second), so a busy one is waited for instead of failing."""


def task_runs_in(database: Path, flow_run_id: str) -> dict[str, int]:
    """The task runs of a flow run in a Prefect database, by state type, as they are now."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        rows = db.execute(
            "select state_type, count(*) from task_run where flow_run_id = ? group by state_type",
            (flow_run_id,),
        ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class PrefectServer:
    url: str
    database: Path
    """The server's SQLite file (its folder holds nothing else)."""

    def task_runs(
        self, flow_run_id: str, expected: int, within_s: float = RECORDED_WITHIN_S
    ) -> dict[str, int]:
        """The task runs of a flow run by state type, once `expected` of them are in a final state
        (or `within_s` has passed: then as many as there are, for the test to show)."""
        deadline = time.monotonic() + within_s
        while True:
            found = task_runs_in(self.database, flow_run_id)
            finished = sum(count for state, count in found.items() if state in FINAL_STATES)
            if finished >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.25)


@contextmanager
def session_server() -> Iterator[PrefectServer]:
    """Start the server; while entered, this process and its children use it."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL
    from prefect.testing.utilities import prefect_test_harness

    timeout = int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180"))
    with prefect_test_harness(server_startup_timeout=timeout):
        url = PREFECT_API_URL.value()
        database = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split(":///", 1)[1])
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = url
        try:
            yield PrefectServer(url, database)
        finally:
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous
