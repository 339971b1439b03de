"""A BFCL test set as the `bfcl` export writes it, a model's BFCL result file, and their scores.

The folder holds `BFCL_v4_<category>.json` question files (JSON Lines: `{"id", "question":
[[{"role", "content"}, ...], ...], "function": [...]}`) and, but for irrelevance categories (whose
answer is no call), `possible_answer/BFCL_v4_<category>.json` (`{"id", "ground_truth"}`). A result
file is JSON Lines `{"id", "result"}`, `result` a list of `{function: arguments}` (the arguments an
object, or JSON text of one, as BFCL writes them for function-calling models) or JSON text of that
list; text that is not such JSON is a text answer: no call, as BFCL reads output it cannot decode.
Each call is checked by `schemas.call_accuracy.check_calls` unless another check is given (BFCL's
own, for its official set: `tasks/evaluation/bfcl_official.py`). Every problem with a file is an
`InputError` naming the file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from schemas.call_accuracy import Call, CallCheck, GroundTruth, check_calls
from schemas.errors import InputError

ANSWERS = "possible_answer"
QUESTION_FILE = re.compile(r"^BFCL_v\d+_(?P<category>\w+)\.json$")
"""A question file's name (`BFCL_v4_parallel.json`), and its category."""
NO_ANSWER = "no answer"
Row = TypeVar("Row", bound=BaseModel)


class BfclQuestion(BaseModel):
    """One question of a BFCL test set: the request, the functions offered, the possible answer."""

    id: str
    category: str = Field(description="From the file name: `simple_python`, `irrelevance`, ...")
    question: list[dict[str, Any]] = Field(description="The first turn's messages: {role, content}.")
    functions: list[dict[str, Any]] = Field(description="BFCL functions (or OpenAI tools).")
    ground_truth: GroundTruth = Field(default_factory=list, description="Empty for irrelevance.")


class _QuestionRow(BaseModel):
    id: str
    question: list[list[dict[str, Any]]] = Field(min_length=1)
    function: list[dict[str, Any]] | dict[str, Any]


class _AnswerRow(BaseModel):
    id: str
    ground_truth: GroundTruth


class _ResultRow(BaseModel):
    id: str
    result: list[dict[str, Any]] | str


def read_bfcl(folder: Path) -> list[BfclQuestion]:
    """Every question of a BFCL folder, files in name order and lines in order, each with its possible
    answer (an empty one for an irrelevance category)."""
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder; give a BFCL test set (the `bfcl` export's folder)")
    files = sorted(path for path in folder.iterdir() if QUESTION_FILE.match(path.name) and path.is_file())
    if not files:
        raise InputError(f"{folder}: no BFCL question file (BFCL_v4_<category>.json) in it")
    questions: list[BfclQuestion] = []
    seen: set[str] = set()
    for path in files:
        category = QUESTION_FILE.match(path.name)["category"]  # type: ignore[index]
        irrelevance = "irrelevance" in category
        answers = {} if irrelevance else _possible_answers(folder / ANSWERS / path.name)
        for number, row in _rows(path, _QuestionRow):
            if row.id in seen:
                raise InputError(f"{path} line {number}: the id '{row.id}' appears twice in the test set")
            seen.add(row.id)
            if not irrelevance and row.id not in answers:
                raise InputError(
                    f"{folder / ANSWERS / path.name}: no possible answer for '{row.id}' "
                    f"(the question at {path} line {number})"
                )
            functions = [row.function] if isinstance(row.function, dict) else row.function
            questions.append(
                BfclQuestion(
                    id=row.id,
                    category=category,
                    question=row.question[0],
                    functions=functions,
                    ground_truth=answers.get(row.id, []),
                )
            )
    return questions


def read_answers(path: Path) -> dict[str, list[Call]]:
    """A model's BFCL result file: its calls by question id, in the order it made them."""
    if not path.is_file():
        raise InputError(f"{path}: no such file; give a BFCL result file (JSON Lines of id and result)")
    found: dict[str, list[Call]] = {}
    for number, row in _rows(path, _ResultRow):
        if row.id in found:
            raise InputError(f"{path} line {number}: the id '{row.id}' appears twice")
        found[row.id] = _calls(row.result, f"{path} line {number}")
    return found


def golden_check(question: BfclQuestion, calls: Sequence[Call]) -> CallCheck:
    """`check_calls` of a model's calls against the question's possible answer."""
    return check_calls(calls, question.ground_truth, question.functions)


def score_answers(
    questions: Sequence[BfclQuestion],
    answers: dict[str, list[Call]],
    check: Callable[[BfclQuestion, Sequence[Call]], CallCheck] = golden_check,
) -> list[tuple[BfclQuestion, CallCheck]]:
    """Each question with `check` of the model's calls; a question it did not answer fails."""
    return [
        (
            question,
            check(question, answers[question.id])
            if question.id in answers
            else CallCheck(correct=False, problems=[NO_ANSWER]),
        )
        for question in questions
    ]


def _possible_answers(path: Path) -> dict[str, GroundTruth]:
    if not path.is_file():
        raise InputError(f"{path}: no such file; the questions of {path.name} need their possible answers")
    found: dict[str, GroundTruth] = {}
    for number, row in _rows(path, _AnswerRow):
        if row.id in found:
            raise InputError(f"{path} line {number}: the id '{row.id}' appears twice")
        found[row.id] = row.ground_truth
    return found


def _rows(path: Path, model: type[Row]) -> Iterator[tuple[int, Row]]:
    """(line number, row) for each line of a JSON Lines file that is not blank."""
    for number, text in _lines(path):
        try:
            value = json.loads(text)
        except ValueError as error:
            raise InputError(f"{path} line {number}: not JSON ({error})") from None
        if not isinstance(value, dict):
            raise InputError(f"{path} line {number}: not a JSON object")
        try:
            yield number, model.model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            missing = first["type"] == "missing"
            raise InputError(
                f"{path} line {number}: " + (f"lacks '{where}'" if missing else f"'{where}': {first['msg']}")
            ) from None


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot be read ({error})") from None
    return ((number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip())


def _calls(result: list[dict[str, Any]] | str, where: str) -> list[Call]:
    """A result's calls: each `{function: arguments}` entry in order (several keys, several calls)."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return []  # a text answer: no call
        if not isinstance(result, list) or not all(isinstance(entry, dict) for entry in result):
            return []
    found: list[Call] = []
    for entry in result:
        for name, arguments in entry.items():
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except ValueError:
                    arguments = None
            if not isinstance(arguments, dict):
                raise InputError(f"{where}: the arguments of {name} are not a JSON object")
            found.append((name, arguments))
    return found
