"""Test sets a corpus must not contain: their questions, read from a source, and the index that finds
the one a generated request near-duplicates.

Why: a model trained on a corpus that holds a benchmark's questions (or close rewordings of them)
scores on that benchmark what it memorised. The corpus flow's `--decontaminate SOURCE` drops such
requests before they are simulated (`flows.decontamination`).

A SOURCE is one of:

- `bfcl:CATEGORY[,CATEGORY...]`: BFCL's official questions of its single-turn AST categories
  (`ast`: all of them), read by BFCL's own loader from the installed `bfcl-eval` package
  (`tasks.evaluation.bfcl_official`; without it, its InputError naming the install command);
- a ToolAlpaca evaluation file (`eval_simulated.json`, `eval_real.json`): every request of every
  entry, whatever its tool's spec, under the case id `flows.evaluate` gives it
  (`tasks.evaluation.toolalpaca_file.toolalpaca_requests`);
- a folder of JSON Lines files (`*.jsonl`, and BFCL's `BFCL_v4_*.json`), one question an object:
  its text is the first of `QUESTION_FIELDS` it has, a string, or BFCL's list of turns of
  `{role, content}` messages (each user message a question); its id is its `id`, else
  `<file>:<line>`.

Every question is a `HeldOutQuestion` named by its source and id. A source that cannot be read, or
holds no question, is an `InputError` naming it. Near-duplicates are found by the same MinHash LSH,
confirmed by exact word Jaccard, as the corpus-wide request dedup (`tasks.dedup.NearDuplicates`).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.errors import InputError
from tasks.dedup import NearDuplicates
from tasks.evaluation import bfcl_official
from tasks.evaluation.toolalpaca_file import toolalpaca_requests

QUESTION_FIELDS = ("question", "instruction", "text")
"""The fields of a JSON Lines question that may hold its text, in the order they are looked for."""


class HeldOutQuestion(BaseModel):
    """One question of a test set: where it comes from, its id there, and its text."""

    source: str
    item_id: str
    text: str

    @property
    def name(self) -> str:
        """How a rejection names it: `<source> <id>`."""
        return f"{self.source} {self.item_id}"


def read_test_set(source: str) -> list[HeldOutQuestion]:
    """The questions of one SOURCE (see the module's docstring); InputError when there are none or it
    cannot be read."""
    if bfcl_official.is_official(source):
        texts = bfcl_package_questions(source)
    else:
        path = Path(source)
        if path.is_dir():
            texts = list(jsonl_folder_questions(path))
        elif path.is_file():
            texts = toolalpaca_requests(path)
        else:
            raise InputError(
                f"--decontaminate {source}: no such file or folder (give bfcl:CATEGORY, a ToolAlpaca "
                "evaluation file or a folder of JSON Lines files)"
            )
    if not texts:
        raise InputError(f"--decontaminate {source}: it holds no question")
    return [HeldOutQuestion(source=source, item_id=item_id, text=text) for item_id, text in texts]


def bfcl_package_questions(source: str) -> list[tuple[str, str]]:
    """(id, text) of every user message of the questions of the BFCL categories `bfcl:CATEGORY[,...]`
    names (`ast`: all its single-turn AST categories), as BFCL's own loader reads them from the
    installed package (`tasks.evaluation.bfcl_official.load_questions`). Read once per process: the
    run's input check and the run itself both need them, and `bfcl:ast` takes seconds to load."""
    return list(_bfcl_package_questions(source))


@functools.cache
def _bfcl_package_questions(source: str) -> tuple[tuple[str, str], ...]:
    categories = bfcl_official.categories(source, flag="--decontaminate")
    return tuple(
        (question.id if n == 1 else f"{question.id}/{n}", text)
        for question in bfcl_official.load_questions(categories, None, answers=False)
        for n, text in enumerate(_user_texts(question.question), start=1)
    )


def jsonl_folder_questions(folder: Path) -> Iterator[tuple[str, str]]:
    """(id, text) of every question of a folder's JSON Lines files, files in name order."""
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and (p.suffix == ".jsonl" or p.name.startswith("BFCL_v"))
    )
    if not files:
        raise InputError(f"--decontaminate {folder}: no JSON Lines file (*.jsonl) in the folder")
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"--decontaminate {path}: cannot be read: {exc}") from None
        yield from _questions_of_lines(text, str(path))


def _questions_of_lines(text: str, where: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"--decontaminate {where} line {number}: not JSON: {exc}") from None
        texts = _texts(row) if isinstance(row, dict) else []
        if not texts:
            raise InputError(
                f"--decontaminate {where} line {number}: no question text (a string in one of "
                f"{', '.join(QUESTION_FIELDS)}, or BFCL's turns of user messages)"
            )
        item_id = str(row.get("id") or f"{Path(where).name}:{number}")
        found += [(item_id if n == 1 else f"{item_id}/{n}", t) for n, t in enumerate(texts, start=1)]
    return found


def _texts(row: dict[str, Any]) -> list[str]:
    """The question texts of a JSON Lines row: its first text field, or every user message of BFCL's
    `question` (a list of turns, each a list of messages)."""
    for field in QUESTION_FIELDS:
        value = row.get(field)
        if isinstance(value, str) and value.strip():
            return [value]
        if field == "question" and isinstance(value, list):
            return _user_texts([m for turn in value for m in (turn if isinstance(turn, list) else [turn])])
    return []


def _user_texts(messages: list[Any]) -> list[str]:
    """The contents of the user messages of BFCL's `{role, content}` messages."""
    return [
        m["content"]
        for m in messages
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str)
    ]


class TestSetIndex:
    """The questions of some test sets, indexed: `match` names the first (in source order) a request
    near-duplicates at `threshold` (word Jaccard, as `tasks.dedup.NearDuplicates` finds it)."""

    __test__ = False  # not a pytest class

    def __init__(self, questions: list[HeldOutQuestion], threshold: float) -> None:
        self.threshold = threshold
        self.questions = {f"{q.source}\0{q.item_id}": q for q in questions}
        self.per_source = Counter(q.source for q in questions)
        self._index = NearDuplicates(threshold)
        for key, question in self.questions.items():
            self._index.add(key, question.text)

    @classmethod
    def of_sources(cls, sources: list[str], threshold: float) -> TestSetIndex:
        """The index of every question of `sources` (InputError for a source that cannot be read)."""
        return cls([q for source in dict.fromkeys(sources) for q in read_test_set(source)], threshold)

    def match(self, text: str) -> tuple[HeldOutQuestion, float] | None:
        """The question `text` near-duplicates and their word Jaccard, or None."""
        found = self._index.find(text)
        return None if found is None else (self.questions[found[0]], found[1])

    def described(self) -> str:
        """The sources and their questions, for the manifest: `bfcl:simple_python (400 questions); ...`."""
        return "; ".join(f"{source} ({n} questions)" for source, n in self.per_source.items())
