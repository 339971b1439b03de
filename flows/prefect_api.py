"""The Prefect API a run reports to, ready by the time the flow starts.

With `PREFECT_API_URL` set, that server is used and nothing starts here. Without it, Prefect starts
an ephemeral server (a subprocess) on the flow's first call, and the command waits for it: 10–25 s
on 2 cores. `prefect_api_for(execution)` starts that same server (Prefect's `SubprocessASGIServer`, one
per process) in the background at once, so it comes up while the inputs are checked and litellm is
set up; `ready()` waits for it before the flow starts. Bad input still fails in seconds: leaving
the context without `ready()` stops the server.

Dask workers cannot start a server of their own: the flow's process names its server to them in the
settings every task run carries (`PREFECT_API_URL`). A cluster on other machines needs a server they
can reach: that is refused here, before anything starts.

`started_here(api_url)` says whether a server is one this process started (it stops with the process,
so what it has not yet written is lost): `flows.terminal.PrefectRecords` waits for such a server only.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_EPHEMERAL_ENABLED,
    get_current_settings,
    temporary_settings,
)

from flows.config import ExecutionSettings
from schemas.errors import InputError

PROCESS_WAIT_S = 5.0
"""How long leaving early waits for the starting server's process to exist, so that it can be stopped."""

_started_api_urls: set[str] = set()
"""The API URLs of the servers `prefect_api_for` started in this process."""


def started_here(api_url: str) -> bool:
    """Whether `api_url` is a Prefect server `prefect_api_for` started in this process."""
    return api_url in _started_api_urls


@contextmanager
def prefect_api_for(execution: ExecutionSettings | None = None) -> Iterator[Callable[[], None]]:
    """Check inputs and run the flow within this context; call the `ready` it gives before the flow."""
    execution = execution or ExecutionSettings()
    dask = execution.task_runner == "dask"
    if get_current_settings().api.url or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        yield lambda: None
        return
    if dask and execution.dask_address and not _on_this_machine(execution.dask_address):
        raise InputError(
            f"the Dask workers at {execution.dask_address} need a Prefect server they can reach: "
            "start one (prefect server start) and set PREFECT_API_URL to it"
        )
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the one this process's client would start: shared, not a second
    failure: list[BaseException] = []

    def start() -> None:
        try:
            server.start()
        except BaseException as exc:  # raised by ready(), in the caller's thread
            failure.append(exc)

    starting = threading.Thread(target=start, name="prefect-server-start", daemon=True)
    starting.start()
    waited = False

    with ExitStack() as settings:

        def ready() -> None:
            nonlocal waited
            starting.join()
            waited = True
            if failure:
                raise failure[0]
            _started_api_urls.add(server.api_url)
            if dask:  # every task run carries the settings to its worker
                settings.enter_context(temporary_settings({PREFECT_API_URL: server.api_url}))

        try:
            yield ready
        finally:
            if not waited:
                _stop_early(server, starting)


def _stop_early(server: object, starting: threading.Thread) -> None:
    """Stop a server still starting when the run ended before it (bad input): it is told to stop and
    not waited for here, so the error is reported at once; Prefect's exit handler reaps it."""
    deadline = time.monotonic() + PROCESS_WAIT_S
    while (process := getattr(server, "server_process", None)) is None and starting.is_alive():
        if time.monotonic() > deadline:
            return
        time.sleep(0.02)
    if process is not None:
        with contextlib.suppress(OSError):
            process.terminate()


def _on_this_machine(address: str) -> bool:
    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    return host in ("localhost", "127.0.0.1", "::1")
