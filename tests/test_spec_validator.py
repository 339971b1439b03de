"""The OpenAPI validator helper process answers exactly what in-process validation answers, and a
helper that cannot start, dies or reports an error never changes the answer."""

from __future__ import annotations

import io
import json
import sys

import pytest

from tasks import openapi
from tasks.spec_validator import MAX_STARTS, SpecValidator, serve

VALID = {"openapi": "3.0.3", "info": {"title": "T", "version": "1"}, "paths": {}}
INVALID = {"openapi": "3.0.3", "paths": {"/x": {"get": {"responses": {"200": "nope"}}}}}
UNREADABLE = {"openapi": "3.0.3", "paths": {"/x": {"get": {"responses": "nope"}}}}


@pytest.fixture
def validator():
    validator = SpecValidator()
    yield validator
    validator.close()


def test_the_helper_answers_as_in_process_validation_does(validator: SpecValidator):
    assert validator.problems(VALID) == openapi.spec_problems(VALID) == []
    assert validator.problems(INVALID) == openapi.spec_problems(INVALID) != []
    assert validator.starts == 1
    assert validator._process is not None and validator._process.poll() is None  # one helper, still up


def test_a_spec_the_validator_trips_over_is_a_problem_not_a_crash(validator: SpecValidator):
    problems = validator.problems(UNREADABLE)
    assert problems == openapi.spec_problems(UNREADABLE)
    assert any("could not read the spec" in p for p in problems)


def test_serve_answers_one_line_per_spec():
    out = io.StringIO()
    serve(io.StringIO(json.dumps(VALID) + "\n" + json.dumps(INVALID) + "\n"), out)
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert answers == [{"problems": []}, {"problems": openapi.spec_problems(INVALID)}]


@pytest.mark.parametrize(
    "command",
    [
        ["/nonexistent/python"],  # cannot start
        [sys.executable, "-c", "import sys; sys.stdin.readline()"],  # dies without answering
        [sys.executable, "-c", "print('not json', flush=True); import sys; sys.stdin.readline()"],
    ],
    ids=["cannot-start", "dies", "garbage"],
)
def test_a_broken_helper_falls_back_to_in_process_validation(command: list[str]):
    validator = SpecValidator(command)
    try:
        for _ in range(MAX_STARTS + 1):
            assert validator.problems(INVALID) == openapi.spec_problems(INVALID)
        assert validator.starts == MAX_STARTS  # it stops trying after MAX_STARTS broken helpers
    finally:
        validator.close()


def test_an_error_in_the_helper_reruns_the_check_in_process():
    script = 'import sys\nfor line in sys.stdin:\n    print(\'{"error": "boom"}\', flush=True)'
    validator = SpecValidator([sys.executable, "-c", script])
    try:
        assert validator.problems(INVALID) == openapi.spec_problems(INVALID)
        assert validator.starts == 1  # the helper itself is fine: it is kept
    finally:
        validator.close()


def test_a_problem_is_one_line_naming_where_and_what():
    """jsonschema-rs (the schema check's backend) explains each error over several paragraphs: a
    problem keeps its first line, which is what a rejection reason and a repair prompt show."""
    missing_version = {"openapi": "3.0.3", "info": {"title": "T"}, "paths": {}}
    (problem,) = openapi.spec_problems(missing_version)
    assert problem.startswith("info: ") and "version" in problem and "required" in problem
    assert "\n" not in problem
