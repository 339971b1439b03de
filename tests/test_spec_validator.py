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


def test_a_spec_sent_as_its_own_text_gets_the_same_answer_whatever_its_characters(validator: SpecValidator):
    """The toolset sends the text it stores (`ensure_ascii=False`): the pipe carries UTF-8 both ways."""
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "Météo · 天気 ✓", "version": "1"},
        "paths": {"/x": {"get": {"responses": {"200": "nope"}, "description": "Prévisions ☂"}}},
    }
    text = json.dumps(spec, ensure_ascii=False)
    assert validator.problems(spec, text) == validator.problems(spec) == openapi.spec_problems(spec) != []
    assert validator.problems(VALID, json.dumps(VALID, ensure_ascii=False)) == []
    assert validator.starts == 1  # the helper read every line: none broke it


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


def test_validating_many_specs_keeps_no_validator_alive():
    """openapi-spec-validator caches each validator's errors without a limit: the check drops that
    cache, so memory does not grow with the number of specs validated (it did: 33 KB a spec)."""
    from openapi_spec_validator.validation.validators import SpecValidator

    for n in range(20):
        openapi.spec_problems({**VALID, "info": {"title": f"T{n}", "version": "1"}})
    assert SpecValidator.iter_errors.__wrapped__.cache_info().currsize == 0
