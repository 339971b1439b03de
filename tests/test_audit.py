"""The audit sample: a random, reproducible sample of a run's accepted dialogues, written as one
Markdown file for people to review (`python -m flows.audit`)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

import storage.run_store as run_store
from flows.audit import REVIEW_QUESTIONS, audit_markdown, audit_sample, main, message_lines
from schemas.dialog import Dialog, Message, ToolCall, tool_message
from schemas.manifest import Manifest
from schemas.verdict import Verdict
from storage import RunStore
from tests.support.records import make_dialog

ACCEPTED = 30


def dialogs(count: int = ACCEPTED) -> list[Dialog]:
    """`count` accepted dialogues with one or two calls and the rule layer's verdicts."""
    made = []
    for number in range(count):
        dialog = make_dialog(f"things-{number}", f"find thing {number}", f"thing {number} found", calls=1)
        verdicts = [
            Verdict(check="too_many_steps", layer="rules", passed=True),
            Verdict(check="hallucination", layer="judge", passed=number % 2 == 0, reason="made | up"),
        ]
        made.append(dialog.model_copy(update={"verdicts": verdicts}))
    return made


def publish_run(store: RunStore, records: list[Dialog] | None, run_id: str | None = None) -> str:
    """A published run holding `records` as its accepted dialogues, 7 to a part (None: no artifact)."""
    writer = store.start_run(run_id)
    if records is not None:
        parts = writer.parts("dialogs", Dialog, rows=7)
        for record in records:
            parts.add([record])
        writer.close_parts()
    started = datetime(2026, 1, 1, tzinfo=UTC)
    writer.write_manifest(
        Manifest(run_id=writer.run_id, started_at=started, status="completed", code_version="x")
    )
    writer.publish()
    return writer.run_id


@pytest.fixture
def out(tmp_path: Path) -> str:
    return str(tmp_path / "out")


@pytest.fixture
def run_id(out: str) -> str:
    return publish_run(RunStore(out), dialogs(), "20260101T000000Z-aaaaaa")


def ids(sample: list[Dialog]) -> list[str]:
    return [d.dialog_id for d in sample]


def test_the_same_seed_gives_the_same_sample_and_the_same_file(out, run_id, capsys):
    store = RunStore(out)
    assert len(store.part_paths(run_id, "dialogs")) == 5
    first = audit_sample(store, run_id, 10, seed=3)
    assert len(first) == 10 and len(set(ids(first))) == 10
    assert ids(audit_sample(store, run_id, 10, seed=3)) == ids(first)
    assert main([run_id, "--n", "10", "--seed", "3", "--out-dir", out]) == 0
    path = Path(capsys.readouterr().out.splitlines()[-1])
    assert path == Path(store.run_dir(run_id)) / "audit-10-seed3.md"
    written = path.read_bytes()
    assert main([run_id, "--n", "10", "--seed", "3", "--out-dir", out]) == 0
    assert path.read_bytes() == written
    assert written.decode() == audit_markdown(run_id, first, ACCEPTED, 3)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_another_seed_gives_another_sample(out, run_id):
    store = RunStore(out)
    assert ids(audit_sample(store, run_id, 10, seed=0)) != ids(audit_sample(store, run_id, 10, seed=1))


def test_the_sample_is_random_sample_of_the_sorted_ids(out, run_id):
    expected = random.Random(7).sample(sorted(d.dialog_id for d in dialogs()), 5)
    assert ids(audit_sample(RunStore(out), run_id, 5, seed=7)) == expected


def test_n_larger_than_the_run_takes_every_dialogue(out, run_id):
    sample = audit_sample(RunStore(out), run_id, 100, seed=0)
    assert sorted(ids(sample)) == sorted(d.dialog_id for d in dialogs())
    assert "- sample size: 30" in audit_markdown(run_id, sample, ACCEPTED, 0)


def test_only_the_chosen_dialogues_are_read(out, run_id, monkeypatch):
    built: list[int] = []
    real = run_store.from_table

    def counting(model, table):
        built.append(table.num_rows)
        return real(model, table)

    monkeypatch.setattr(run_store, "from_table", counting)
    audit_sample(RunStore(out), run_id, 4, seed=0)
    assert sum(built) == 4


def test_latest_and_a_run_folder_name_the_run(out, run_id, capsys, tmp_path):
    newer = publish_run(RunStore(out), dialogs(3), "20260102T000000Z-bbbbbb")
    assert main(["latest", "--n", "5", "--out-dir", out]) == 0
    path = Path(capsys.readouterr().out.splitlines()[-1])
    assert path == Path(out) / "runs" / newer / "audit-5-seed0.md"
    assert "- sample size: 3" in path.read_text()
    folder = str(Path(out) / "runs" / run_id)
    target = tmp_path / "review" / "audit.md"
    assert main([folder, "--n", "5", "--out", str(target)]) == 0  # no --out-dir: the folder says where
    assert capsys.readouterr().out.splitlines()[-1] == str(target)
    assert f"# Audit sample of run `{run_id}`" in target.read_text()


@pytest.mark.parametrize("run", ["20990101T000000Z-ffffff", "../elsewhere", "not a run"])
def test_a_missing_run_is_one_error_line_and_status_2(out, run_id, capsys, run):
    assert main([run, "--out-dir", out]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1 and captured.err.startswith("error: ")


def test_latest_without_a_published_run_is_an_error(tmp_path, capsys):
    assert main(["latest", "--out-dir", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.startswith("error: no published run in ")


def test_the_markdown_holds_each_sampled_dialogue_and_the_review_columns(out, run_id):
    sample = audit_sample(RunStore(out), run_id, 6, seed=0)
    text = audit_markdown(run_id, sample, ACCEPTED, 0)
    assert text.startswith(f"# Audit sample of run `{run_id}`\n")
    assert "- accepted dialogues: 30\n- sample size: 6\n- seed: 0" in text
    assert "| # | dialogue | solvable | executor ok | correct |" in text
    for number, dialog in enumerate(sample, 1):
        assert f"| {number} | `{dialog.dialog_id}` |  |  |  |" in text
        assert f"## {number}. `{dialog.dialog_id}`" in text
        assert f"> {dialog.instruction}" in text
    assert text.count("| question | Yes/No |") == 6
    for column, question in REVIEW_QUESTIONS:
        assert text.count(f"| **{column}**: {question} |  |") == 6
    assert "| `things` | single | easy (0.00) | `things` | `getThing` |" in text
    assert '**Call** `call_1`: `getThing` `{"n": 1}`' in text
    assert "**Tool** `getThing` (`call_1`), status 200:" in text
    assert "x" * 900 not in text and "characters)" in text  # the body is clipped
    assert "**Final answer:**" in text
    assert "| too_many_steps | rules | yes |  |" in text
    for dialog in sample:  # the judge's verdict, a pipe in its reason escaped
        passed = "yes" if int(dialog.dialog_id.split("-")[1]) % 2 == 0 else "no"
        assert f"| hallucination | judge | {passed} | made \\| up |" in text


def test_questions_parallel_calls_and_backticks_are_rendered():
    asked = Message(role="assistant", content="Which city?", clarification=True)
    reply = Message(role="user", content="Lisbon", clarification=True)
    calls = [ToolCall(id=f"call_{n}", name="search", arguments=f'{{"q": "{n}"}}') for n in (1, 2)]
    both = Message(role="assistant", thought="Both at once.", tool_calls=calls)
    body = tool_message(calls[0], 404, {"error": "no ```such``` city"})
    assert message_lines(asked) == ["**Assistant asks:**", "", "> Which city?"]
    assert message_lines(reply)[0] == "**User (reply to the question):**"
    lines = message_lines(both)
    assert (
        '**Call** `call_1`: `search` `{"q": "1"}`' in lines
        and '**Call** `call_2`: `search` `{"q": "2"}`' in lines
    )
    assert "**Final answer:**" not in lines
    rendered = "\n".join(message_lines(body))
    assert "status 404" in rendered and "\n````json\n" in rendered  # a fence longer than ``` inside


def test_a_run_without_accepted_dialogues_gives_an_empty_sample(out, capsys):
    empty = publish_run(RunStore(out), None, "20260103T000000Z-cccccc")
    assert audit_sample(RunStore(out), empty, 10, seed=0) == []
    assert main([empty, "--out-dir", out]) == 0
    text = Path(capsys.readouterr().out.splitlines()[-1]).read_text()
    assert "- accepted dialogues: 0" in text and "No accepted dialogue to sample." in text
