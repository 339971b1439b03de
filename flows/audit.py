"""A sample of a run's accepted dialogues for people to review, as one Markdown file:
`python -m flows.audit RUN --n 100 [--seed 0] [--out FILE] [--out-dir DIR]`.

RUN is a run id, `latest` (the latest published run) or a run folder (`out/runs/<run id>`). The
sample is `random.Random(seed).sample` of the accepted dialogues' sorted ids, so the same run, `n` and
seed give the same sample and the same file, byte for byte; only the chosen dialogues are read, one
part at a time. For each: its tool, type and complexity, the functions offered, the dialogue, the
verdicts of the checks, and the three questions ToolAlpaca's reviewers answered (solvable, executor
ok, correct), with an empty Yes/No cell each; the top of the file repeats them as one table, a row
per dialogue. The file goes to `<run folder>/audit-<n>-seed<seed>.md` (or `--out`), written
atomically; its path is the last line printed. A run that cannot be found is one `error:` line on
stderr and exit status 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import random
import sys
import uuid
from collections.abc import Sequence
from typing import Annotated

import fsspec
from fsspec.implementations.local import LocalFileSystem
from pydantic import Field

from flows.cli import RunCommand
from flows.options import BadOption, CommandLine, ModelOptions
from schemas.dialog import Dialog, Message
from schemas.errors import InputError
from schemas.option import Option
from schemas.text import clipped
from storage.run_store import RunStore, resolve_run

EXIT_OK, EXIT_INPUT = 0, 2
DIALOGS = "dialogs"
CLIP_CHARS = 600
"""A tool's body and a call's arguments are shown up to this many characters."""
REVIEW_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("solvable", "Is the request solvable with the tools offered?"),
    ("executor ok", "Are the simulated responses what a real API would return?"),
    ("correct", "Are the calls and the final answer right?"),
)
"""The questions ToolAlpaca's reviewers answered of each dialogue: (column, question)."""


def accepted_ids(store: RunStore, run_id: str) -> list[str]:
    """The ids of the run's accepted dialogues, sorted, each once (none without a `dialogs` artifact)."""
    return sorted({str(i) for i in store.read_column(run_id, DIALOGS, "dialog_id")})


def audit_sample(store: RunStore, run_id: str, n: int, seed: int) -> list[Dialog]:
    """`min(n, accepted)` accepted dialogues of the run, chosen by `random.Random(seed).sample` of
    their sorted ids, in the order chosen; only the chosen rows of each part are read."""
    ids = accepted_ids(store, run_id)
    chosen = random.Random(seed).sample(ids, min(max(n, 0), len(ids)))
    found: dict[str, Dialog] = {}
    for dialog in store.iter_records_where(run_id, DIALOGS, Dialog, "dialog_id", chosen):
        found.setdefault(dialog.dialog_id, dialog)
        if len(found) == len(chosen):
            break  # the later parts are not read
    return [found[i] for i in chosen if i in found]


def audit_markdown(run_id: str, dialogs: Sequence[Dialog], accepted: int, seed: int) -> str:
    """The review file: the run, the sample, one table of the questions for every dialogue, then each
    dialogue with its verdicts and its own review block."""
    lines = [
        f"# Audit sample of run `{run_id}`",
        "",
        f"- run: `{run_id}`",
        f"- accepted dialogues: {accepted}",
        f"- sample size: {len(dialogs)}",
        f"- seed: {seed}",
        "",
        "Answer each question Yes or No, in this table or under each dialogue:",
        "",
        *(f"- **{column}**: {question}" for column, question in REVIEW_QUESTIONS),
        "",
    ]
    if not dialogs:
        return "\n".join([*lines, "No accepted dialogue to sample."]) + "\n"
    columns = [column for column, _ in REVIEW_QUESTIONS]
    lines += [
        "| # | dialogue | " + " | ".join(columns) + " |",
        "|--:|---|" + "---|" * len(columns),
        *(
            f"| {number} | {_cell(_code(d.dialog_id))} |" + "  |" * len(columns)
            for number, d in enumerate(dialogs, 1)
        ),
    ]
    for number, dialog in enumerate(dialogs, 1):
        lines += ["", "---", "", *dialog_section(number, dialog)]
    return "\n".join(lines) + "\n"


def dialog_section(number: int, dialog: Dialog) -> list[str]:
    """One sampled dialogue: what it is, its messages, its verdicts and its review block."""
    functions = _cell(", ".join(_code(name) for name in offered_functions(dialog.tools)) or "(none)")
    tools = _cell(", ".join(_code(t) for t in dialog.offered_tool_ids))
    lines = [
        f"## {number}. {_code(dialog.dialog_id)}",
        "",
        "| tool | type | complexity | tools offered | functions offered |",
        "|---|---|---|---|---|",
        f"| {_cell(_code(dialog.tool_id))} | {dialog.dialog_type} | {dialog.complexity_band} "
        f"({dialog.complexity:.2f}) | {tools} | {functions} |",
        "",
        "### Dialogue",
    ]
    for message in dialog.messages:
        lines += ["", *message_lines(message)]
    lines += ["", "### Verdicts", ""]
    if dialog.verdicts:
        lines += ["| check | layer | passed | reason |", "|---|---|---|---|"]
        lines += [
            f"| {_cell(v.check)} | {v.layer} | {'yes' if v.passed else 'no'} | {_cell(v.reason)} |"
            for v in dialog.verdicts
        ]
    else:
        lines.append("No verdict recorded.")
    lines += ["", "### Review", "", "| question | Yes/No |", "|---|---|"]
    lines += [f"| **{column}**: {question} |  |" for column, question in REVIEW_QUESTIONS]
    return lines


def message_lines(message: Message) -> list[str]:
    """One message as Markdown: the user's words; the assistant's thought, calls (with their
    arguments), question or answer; the tool's status and body (clipped to `CLIP_CHARS`)."""
    if message.role == "user":
        label = "User (reply to the question)" if message.clarification else "User"
        return [f"**{label}:**", "", _quote(message.content)]
    if message.role == "tool":
        call = f"{_code(message.name)} ({_code(message.tool_call_id)})"
        return [
            f"**Tool** {call}, status {message.status_code}:",
            "",
            _fenced(clipped(message.content, CLIP_CHARS, counted=True), "json"),
        ]
    lines: list[str] = []
    if message.thought:
        lines += ["**Assistant thought:**", "", _quote(message.thought), ""]
    for call in message.tool_calls:
        arguments = clipped(call.arguments, CLIP_CHARS, counted=True)
        lines += [f"**Call** {_code(call.id)}: {_code(call.name)} {_code(arguments)}", ""]
    if message.content or not message.tool_calls:
        if message.clarification:
            label = "Assistant asks"
        elif message.tool_calls:
            label = "Assistant"
        else:
            label = "Final answer"
        lines += [f"**{label}:**", "", _quote(message.content)]
    return lines[:-1] if lines and lines[-1] == "" else lines


def offered_functions(tools: str) -> list[str]:
    """The names of the functions in a dialogue's `tools` (OpenAI tools as JSON text)."""
    try:
        parsed = json.loads(tools)
    except ValueError:
        return []
    names = []
    for tool in parsed if isinstance(parsed, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.append(function["name"])
    return names


def audit_path(store: RunStore, run_id: str, n: int, seed: int) -> str:
    """Where the audit file goes by default: `<run folder>/audit-<n>-seed<seed>.md`."""
    return f"{store.run_dir(run_id)}/audit-{n}-seed{seed}.md"


def write_audit(run: str, n: int, seed: int = 0, out: str | None = None, out_dir: str = "out") -> str:
    """Sample the run RUN names, write the review file (atomically) and return its path; InputError
    when the run cannot be found or the file cannot be written."""
    store, run_id = resolve_run(run, out_dir)
    dialogs = audit_sample(store, run_id, n, seed)
    text = audit_markdown(run_id, dialogs, len(accepted_ids(store, run_id)), seed)
    path = out or audit_path(store, run_id, n, seed)
    try:
        return write_text_atomic(path, text)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_text_atomic(path: str, text: str) -> str:
    """Write `text` to `path` (a local path or fsspec URL) through a hidden temporary sibling renamed
    onto it, so the file is either absent, old or complete; the path written."""
    fs, target = fsspec.core.url_to_fs(path)
    local = isinstance(fs, LocalFileSystem)
    if local:
        target = path = os.path.abspath(os.path.expanduser(path))
    paths = os.path if local else posixpath
    parent, name = paths.split(target)
    temp = paths.join(parent, f".{name}.tmp-{uuid.uuid4().hex}")
    data = text.encode("utf-8")
    try:
        if local:
            os.makedirs(parent, exist_ok=True)
            with open(temp, "xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, target)
        else:
            fs.pipe_file(temp, data)
            fs.mv(temp, target)
    except BaseException:
        with contextlib.suppress(Exception):
            if fs.exists(temp):
                fs.rm_file(temp)
        raise
    return path


class AuditCommand(RunCommand):
    """`python -m flows.audit`'s arguments."""

    n: int = Field(default=100, ge=1, description="Dialogues to sample.")
    seed: int = Field(default=0, description="Random seed of the sample.")
    out: Annotated[str | None, Option(metavar="FILE")] = Field(
        default=None, description="The file to write (default <run folder>/audit-N-seedS.md)."
    )


COMMAND = CommandLine(
    "python -m flows.audit",
    "Write a random, reproducible sample of a run's accepted dialogues as a Markdown file "
    "for people to review. Prints the file's path last.",
    (ModelOptions(AuditCommand),),
)


def main(argv: list[str] | None = None) -> int:
    """The command line: the file's path as the last line of stdout and exit status 0; else one
    `error:` line on stderr and 2."""
    try:
        (args,) = COMMAND.parse(argv)
        path = write_audit(args.run, n=args.n, seed=args.seed, out=args.out, out_dir=args.out_dir)
    except (BadOption, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(path, flush=True)
    return EXIT_OK


def _quote(text: str) -> str:
    """`text` as a Markdown block quote (an empty text as an empty quote)."""
    return "\n".join(f"> {line}".rstrip() for line in (text.splitlines() or [""]))


def _fenced(text: str, language: str = "") -> str:
    """`text` in a code fence longer than any run of backticks inside it."""
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _code(text: str) -> str:
    """`text` as inline code on one line (backticks inside it kept)."""
    text = " ".join(text.split())
    ticks = "`" * (_longest_backticks(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _cell(text: str) -> str:
    """Text fit for a table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _longest_backticks(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


if __name__ == "__main__":
    sys.exit(main())
