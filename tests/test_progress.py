"""The terminal's progress (`flows/progress.py`) and the run's last lines (`flows/terminal.py`): on a
TTY the board is redrawn in place as before; elsewhere lines are appended, one per stage change and
a heartbeat whenever the stream was quiet, from a thread that a blocked run does not hold back."""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime

import pytest

from agents.llm.gateway import LLMGateway
from flows.cli import parse_command_line
from flows.progress import HEARTBEAT_S, ProgressBoard, elapsed, phase
from flows.terminal import run_end_lines
from schemas.manifest import Manifest, StageStats
from schemas.statistics import CorpusStatistics, Histogram, RejectionCount

TICK = 0.05


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def heartbeats(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line.endswith(" elapsed")]


def wait_for(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(TICK / 5)


@pytest.fixture
def gateway(llm_config) -> LLMGateway:
    return LLMGateway(llm_config)


def test_a_blocked_run_still_prints_heartbeats_and_the_thread_stops_at_close(gateway):
    stream = io.StringIO()
    board = ProgressBoard(gateway, stream=stream, every_s=TICK)
    board.stage("toolset", "tools")
    board.stage("simulation", "dialogs")
    board.begin("corpus run r1: started: toolset, simulation")
    board.expect("toolset", 3)
    board.advance("toolset", True)
    gateway.ledger.record_call("toolset", "toolsmith", "m", prompt_tokens=1, completion_tokens=1, cost_usd=0)

    wait_for(lambda: len(heartbeats(stream)) >= 3)  # nothing advances: the thread speaks
    board.close()
    threads = [t for t in threading.enumerate() if t.name == "toolforge-heartbeat"]
    printed = stream.getvalue()
    time.sleep(TICK * 4)

    assert threads == [], "the heartbeat's thread outlived close()"
    assert stream.getvalue() == printed, "a line came after close()"
    lines = printed.splitlines()
    assert lines[:2] == ["corpus run r1: started: toolset, simulation", "toolset started: 3 tools queued"]
    beat = heartbeats(stream)[0]
    assert beat.startswith("working: toolset 1/3 tools · 1 LLM calls · 0 cached · ")
    assert "simulation" not in beat  # nothing queued for it yet
    assert lines[-2].startswith("toolset      1/3 tools · 1 ok · 0 rejected · 1 LLM calls")
    assert lines[-1].startswith("simulation   0/0 dialogs")
    assert "\033" not in printed


def test_stage_changes_are_lines_and_a_stage_finishes_only_after_the_stages_before_it(gateway):
    stream = io.StringIO()
    board = ProgressBoard(gateway, stream=stream, every_s=3600)
    board.stage("toolset", "tools")
    board.stage("instructions", "tools")
    board.expect("toolset", 2)
    board.advance("toolset", True)
    board.expect("instructions", 1)
    board.advance("instructions", True)  # all its items done, but the toolset may queue more
    board.advance("toolset", False)
    board.close()

    lines = stream.getvalue().splitlines()
    assert lines[0] == "toolset started: 2 tools queued"
    assert lines[1] == "instructions started: 1 tools queued"
    assert lines[2].startswith("toolset finished: 2/2 tools · 1 ok · 1 rejected · 0 LLM calls")
    assert not [line for line in lines if line.startswith("instructions finished")]
    assert len(lines) == 5 and heartbeats(stream) == []  # the interval never passed


def test_a_quiet_stream_gets_a_heartbeat_only_when_no_line_came_for_the_interval(gateway):
    stream = io.StringIO()
    board = ProgressBoard(gateway, stream=stream, every_s=0.5)
    board.stage("simulation", "dialogs")
    board.begin("begun")
    board.expect("simulation", 100)
    for _ in range(20):  # items done are no stage change: no line, so the heartbeat comes all the same
        board.advance("simulation", True)
        time.sleep(0.01)
    wait_for(lambda: heartbeats(stream))
    board.close()

    assert heartbeats(stream)[0].startswith("working: simulation 20/100 dialogs")


def test_on_a_terminal_the_board_is_redrawn_in_place_and_nothing_else(gateway):
    stream = Terminal()
    board = ProgressBoard(gateway, stream=stream, every_s=TICK)
    board.stage("toolset", "tools")
    board.begin("corpus run r1: started: toolset")
    board.expect("toolset", 1)
    board.advance("toolset", True)
    time.sleep(TICK * 4)
    board.close()

    printed = stream.getvalue()
    assert "started" not in printed and "finished" not in printed and "elapsed" not in printed
    assert printed.count("\033[K") == 3 and printed.count("\033[1F") == 2
    assert not [t for t in threading.enumerate() if t.name == "toolforge-heartbeat"]


def test_a_phase_outside_the_flow_says_what_it_does_at_once_and_again_while_it_lasts():
    stream = io.StringIO()
    with phase("corpus run r1: loading the models", TICK, stream=stream):
        wait_for(lambda: len(stream.getvalue().splitlines()) >= 3)
    printed = stream.getvalue()
    time.sleep(TICK * 3)

    lines = printed.splitlines()
    assert lines[0] == "corpus run r1: loading the models"
    assert lines[1].startswith("corpus run r1: loading the models · ") and lines[1].endswith("s")
    assert stream.getvalue() == printed

    quiet, terminal = io.StringIO(), Terminal()
    with phase("recording", 3600, announce=False, stream=quiet), phase("loading", TICK, stream=terminal):
        time.sleep(TICK * 3)
    assert quiet.getvalue() == "" and terminal.getvalue() == ""


def test_elapsed_reads_as_minutes_and_seconds():
    assert [elapsed(s) for s in (0.2, 41.4, 60, 965.2)] == ["0s", "41s", "1m00s", "16m05s"]


def statistics(rejections: list[RejectionCount]) -> CorpusStatistics:
    empty = Histogram(edges=[0, 1], counts=[0])
    return CorpusStatistics(
        categories=1, tools=2, tools_with_dialogs=2, instances=7, rejected_instances=3, single_call=7,
        multiple_calls=0, no_call=0, avg_functions_per_tool=1.0, avg_steps=1.0, avg_request_words=5.0,
        avg_answer_words=5.0, rejections=rejections, request_words=empty, answer_words=empty, steps=empty,
    )  # fmt: skip


def manifest(rejections: list[RejectionCount]) -> Manifest:
    stages = [
        StageStats(name="toolset", inputs=3, outputs=2, rejected=1, seconds=1.0),
        StageStats(name="simulation", inputs=10, outputs=7, rejected=3, seconds=2.0),
    ]
    return Manifest(
        run_id="r1", started_at=datetime.now(UTC), status="completed", code_version="x", stages=stages,
        statistics=statistics(rejections),
    )  # fmt: skip


def test_the_runs_last_lines_name_its_counts_its_rejections_by_rule_and_its_report():
    rejected = [
        RejectionCount(step="rules", rule="repeated_ngrams", count=2),
        RejectionCount(step="judge", rule="judge_score", count=1),
        RejectionCount(step="toolset", rule="invalid_spec", count=1),
    ]

    lines = run_end_lines(manifest(rejected), "out/runs/r1", 252.4)

    assert lines == [
        "corpus run r1: completed in 4m12s: 2 tools, 7 dialogues accepted, 3 rejected",
        "rejections by rule: rules/repeated_ngrams 2, judge/judge_score 1, toolset/invalid_spec 1",
        "report: out/runs/r1/report.html",
    ]
    assert run_end_lines(manifest([]), "s3://b/runs/r1", 3)[1:] == [
        "rejections by rule: none",
        "report: s3://b/runs/r1/report.html",
    ]


def test_the_heartbeat_interval_is_an_option_of_the_command():
    assert parse_command_line(["--seeds", "apis.md"])[1].progress_every == HEARTBEAT_S == 30.0
    assert parse_command_line(["--seeds", "apis.md", "--progress-every", "5"])[1].progress_every == 5.0
    with pytest.raises(SystemExit):
        parse_command_line(["--seeds", "apis.md", "--progress-every", "0"])
