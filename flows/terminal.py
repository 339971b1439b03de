"""The command line's terminal: ToolForge's own lines only; Prefect's go to a log file.

On the terminal a user sees the ingest report, one progress line per stage (`flows/progress.py`;
where stderr is no TTY, a line per stage change and a heartbeat), and then either the run's end
(`run_end_lines`: what it accepted and rejected, by rule, and where its report.html is) and its
directory (stdout, last), or one `error:` line. Everything Prefect would print there (warnings, a
failed task's traceback, its ephemeral server's messages, also while it shuts down) goes to the log
file instead: `--log-file`, by default `<out>/toolforge.log` (`<cache-dir>/toolforge.log` when the
run store is not a local folder).

Before the run directory is printed, `PrefectRecords.wait` makes sure Prefect's server holds a
record of every task run: the client's event queue is sent, and the ephemeral server (which stops
with this process) is given the time to write what it received.
"""

from __future__ import annotations

import logging
import logging.config
import os
import posixpath
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from flows.config import CorpusConfig
from flows.prefect_api import started_here
from flows.progress import elapsed
from flows.report import REPORT_HTML
from schemas.manifest import Manifest
from storage.run_store import RunStore
from tasks.forecast import forecast_check_line

LOGGING_CONFIG = Path(__file__).with_name("logging.yml")
LOG_FILE_NAME = "toolforge.log"
RECORDS_TIMEOUT_S = 600.0
"""How long to wait, at most, for Prefect's server to record a run's task runs."""
_FINAL_STATES = ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]
_LOG_ENV = {
    "PREFECT_LOGGING_SETTINGS_PATH": str(LOGGING_CONFIG),
    "PREFECT_LOGGING_HANDLERS_CONSOLE_FILENAME": "",
    "PREFECT_LOGGING_HANDLERS_DEBUG_FILENAME": "",
}

log = logging.getLogger(__name__)


def default_log_file(config: CorpusConfig) -> Path:
    """`<out>/toolforge.log` for a local run store, else `<cache-dir>/toolforge.log`."""
    base = config.llm.cache_dir if "://" in config.out else config.out
    return Path(base).expanduser().resolve() / LOG_FILE_NAME


class TerminalLog:
    """While entered: Prefect's logging (this process's and its ephemeral server's) writes to `path`.

    Leaving restores the loggers and environment as they were (tests call the command line in-process).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved_env: dict[str, str | None] = {}
        self._saved_loggers: dict[str, tuple[list[logging.Handler], int, bool]] = {}

    @classmethod
    def for_config(cls, config: CorpusConfig, path: str | None = None) -> TerminalLog:
        return cls(Path(path).expanduser().resolve() if path else default_log_file(config))

    def __enter__(self) -> TerminalLog:
        from prefect.logging.configuration import load_logging_config

        self.path.parent.mkdir(parents=True, exist_ok=True)
        environment = {**_LOG_ENV}
        for name in environment:
            if name.endswith("_FILENAME"):
                environment[name] = str(self.path)
        for name, value in environment.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value  # read by the ephemeral server when it starts
        config = load_logging_config(LOGGING_CONFIG)
        for name in ["", *config.get("loggers", {})]:
            logger = logging.getLogger(name)
            self._saved_loggers[name] = (list(logger.handlers), logger.level, logger.propagate)
        logging.config.dictConfig(config)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for name, (handlers, level, propagate) in self._saved_loggers.items():
            logger = logging.getLogger(name)
            for handler in logger.handlers:
                if handler not in handlers:
                    handler.close()
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def record_exception(self, error: BaseException) -> None:
        """Append an unexpected error's traceback to the log file."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("".join(traceback.format_exception(error)))


class PrefectRecords:
    """Waits until Prefect holds the record of every task run of a run (see the module's docstring)."""

    def __init__(self, out: str, run_id: str) -> None:
        self.out, self.run_id = out, run_id

    def wait(self, timeout_s: float = RECORDS_TIMEOUT_S) -> int | None:
        """Send the queued events and logs; with the ephemeral server, wait until it has recorded the
        run's task runs in a final state. Returns how many it holds (None when not counted)."""
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker
        from prefect.settings import get_current_settings

        started = time.monotonic()
        EventsWorker.drain_all(timeout=timeout_s)
        APILogWorker.drain_all(timeout=max(1.0, timeout_s - (time.monotonic() - started)))
        api_url = get_current_settings().api.url
        if api_url and not started_here(api_url):
            return None  # a server that outlives this process records at its pace
        expected, flow_run_id = self._expected()
        if flow_run_id is None:
            return None
        recorded = 0
        while time.monotonic() - started < timeout_s:
            recorded = _final_task_runs(flow_run_id)
            if recorded >= expected:
                return recorded
            time.sleep(0.25)
        log.warning(
            "Prefect recorded %d of the %d task runs of run %s within %.0f s; the rest may be missing "
            "from its database (the run's own files are complete)",
            recorded,
            expected,
            self.run_id,
            timeout_s,
        )
        return recorded

    def _expected(self) -> tuple[int, str | None]:
        try:
            manifest = RunStore(self.out).read_manifest(self.run_id)
        except (OSError, ValueError):
            return 0, None
        return manifest.task_runs, manifest.flow_run_id


def _final_task_runs(flow_run_id: str) -> int:
    from prefect.client.orchestration import get_client

    body: dict[str, Any] = {
        "flow_runs": {"id": {"any_": [flow_run_id]}},
        "task_runs": {"state": {"type": {"any_": _FINAL_STATES}}},
    }
    with get_client(sync_client=True) as client:
        return int(client.request("POST", "/task_runs/count", json=body).json())


def run_end_lines(manifest: Manifest, run_dir: str, seconds: float) -> list[str]:
    """The run's last lines on stderr: what it made, its rejections by step and rule (the names its
    `rejections` carry), and where its report.html is.

        corpus run 20261207-…: completed in 4m12s: 2 tools, 7 dialogues accepted, 3 rejected
        rejections by rule: rules/repetition 2, judge/judge_score 1
        report: out/runs/20261207-…/report.html
    """
    stages = {stage.name: stage for stage in manifest.stages}
    made = [f"{stages['pool'].outputs} APIs"] if "pool" in stages else []
    if "toolset" in stages:
        made.append(f"{stages['toolset'].outputs} tools")
    if "simulation" in stages:
        simulation = stages["simulation"]
        made.append(f"{simulation.outputs} dialogues accepted, {simulation.rejected} rejected")
    statistics = manifest.statistics
    by_rule = [f"{r.step}/{r.rule} {r.count}" for r in (statistics.rejections if statistics else [])]
    what = ", ".join(made) or "nothing made"
    forecast = [forecast_check_line(manifest.forecast)] if manifest.forecast else []
    return [
        f"corpus run {manifest.run_id}: {manifest.status} in {elapsed(seconds)}: {what}",
        f"rejections by rule: {', '.join(by_rule) or 'none'}",
        *forecast,
        f"report: {posixpath.join(run_dir, REPORT_HTML)}",
    ]
