"""BFCL's official test set through `python -m flows.evaluate --eval bfcl:...`: a scripted model answers
a few official questions per category, and the scores printed and written are those BFCL's own
runner (`bfcl_eval.eval_checker.eval_runner`) gives the same answers; without bfcl-eval, one error
line naming the install command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from flows import evaluate
from schemas.call_accuracy import Call
from schemas.errors import InputError
from tasks.evaluation import bfcl_official
from tasks.evaluation.bfcl_set import BfclQuestion
from tests.support.fake_llm import ScriptedLLM
from tests.support.packages import needs_bfcl

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance", "live_simple")
LIMIT = 3
RUNNER_MODEL = "firefunction-v2-FC"
"""A BFCL function-calling model (arguments as JSON text) that reads dots in names as they are."""


def plain(option: Any) -> Any:
    """A possible answer's allowed value as a model would write it (BFCL wraps an object's fields)."""
    if isinstance(option, dict):
        fields = {key: [v for v in allowed if v != ""] for key, allowed in option.items()}
        return {key: plain(allowed[0]) for key, allowed in fields.items() if allowed}
    if isinstance(option, list):
        return [plain(item) for item in option]
    return option


def golden(question: BfclQuestion) -> list[Call]:
    """The possible answer's first allowed values, optional parameters left out."""
    return [
        (name, plain({parameter: allowed for parameter, allowed in arguments.items()}))
        for entry in question.ground_truth
        for name, arguments in entry.items()
    ]


def planned(question: BfclQuestion, index: int) -> list[Call]:
    """The scripted model's calls: the possible answer (first question), a mistake (second: the first
    call's first string changed, or for irrelevance a call of the first function), none (third)."""
    calls = golden(question)
    if index == 0:
        return calls
    if index == 1:
        if not calls:
            return [(question.functions[0]["name"], {})]
        name, arguments = calls[0]
        text = next((key for key, value in arguments.items() if isinstance(value, str)), None)
        wrong = {**arguments, text: "not what was asked"} if text else {**arguments, "unasked": 1}
        return [(name, wrong), *calls[1:]]
    return []


def react(calls: list[Call]) -> str:
    if not calls:
        return "Thought: No function fits the request.\nFinal Answer: I cannot do that."
    steps = [f"Thought: I call {n}.\nAction: {n}\nAction Input: {json.dumps(a)}" for n, a in calls]
    return "\n".join(steps) + "\n"


def request_of(question: BfclQuestion) -> str:
    return "\n".join(str(m.get("content", "")) for m in question.question if m.get("role") == "user")


def bfcl_runner_scores(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Accuracy per category as BFCL's own runner scores the result files the evaluation wrote."""
    from bfcl_eval.eval_checker import eval_runner
    from bfcl_eval.utils import load_dataset_entry, load_file, load_ground_truth_entry

    for key in ("OPENAI_API_KEY", "FIREWORKS_API_KEY"):
        monkeypatch.setenv(key, "unused")  # its clients are made, never called
    handler = eval_runner.get_handler(RUNNER_MODEL)
    found = {}
    for category in CATEGORIES:
        result = load_file(folder / "answers" / "scripted_test" / f"BFCL_v4_{category}_result.json")
        prompt = load_dataset_entry(category, include_prereq=False, include_language_specific_hint=False)
        score_dir = tmp_path / "bfcl_score"
        if category in bfcl_official.IRRELEVANCE:
            accuracy, _ = eval_runner.relevance_file_runner(
                handler, result, prompt[:LIMIT], RUNNER_MODEL, category, score_dir
            )
        else:
            answers = load_ground_truth_entry(category)[:LIMIT]
            accuracy, _ = eval_runner.ast_file_runner(
                handler, result, prompt[:LIMIT], answers, category, RUNNER_MODEL, score_dir
            )
        found[category] = accuracy
    return found


@needs_bfcl
def test_official_questions_are_scored_as_bfcl_s_runner_scores_them(
    scripted_llm: ScriptedLLM,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    questions = bfcl_official.load_questions(CATEGORIES, LIMIT)
    assert [q.category for q in questions] == [c for c in CATEGORIES for _ in range(LIMIT)]
    plans = {request_of(q): planned(q, i % LIMIT) for i, q in enumerate(questions)}

    def script(request: dict[str, Any]) -> str:
        prompt = str(request["messages"][-1]["content"])
        asked = max((text for text in plans if text in prompt), key=len)
        return react(plans[asked])

    scripted_llm.script = script
    source = "bfcl:" + ",".join(CATEGORIES)
    argv = ["--model", "scripted/test", "--eval", source, "--limit", str(LIMIT)]
    status = evaluate.main([*argv, "--out-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache")])
    out, err = capsys.readouterr()
    assert status == 0, err
    folder = Path(out.strip())
    scores = json.loads((folder / "bfcl_scores.json").read_text())["accuracy"]["scripted/test"]
    expected = bfcl_runner_scores(folder, tmp_path, monkeypatch)
    assert {c: scores[c] for c in CATEGORIES} == pytest.approx(expected, abs=1e-4)
    # the possible answer passes, the mistake and the silence fail (irrelevance: silence passes)
    assert all(0 < scores[c] < 1 for c in CATEGORIES)
    non_live = [expected[c] for c in bfcl_official.NON_LIVE_AST]
    assert scores[bfcl_official.NON_LIVE_SUMMARY] == pytest.approx(sum(non_live) / len(non_live), abs=1e-4)
    assert scores[bfcl_official.LIVE_SUMMARY] == pytest.approx(expected["live_simple"], abs=1e-4)
    version = bfcl_official.version()
    assert version.startswith("BFCL_v4, bfcl-eval ") and version in err
    assert version in (folder / "report.md").read_text()
    assert f"irrelevance ({LIMIT})" in err


def test_bad_categories_are_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = evaluate.main(["--model", "scripted/test", "--eval", "bfcl:simple", "--out-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert (
        err.startswith("error: --eval bfcl:simple: 'simple' is not a BFCL category") and err.count("\n") == 1
    )


def test_without_bfcl_eval_the_error_names_the_install_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "bfcl_eval", None)  # as if the package were not installed
    status = evaluate.main(["--model", "scripted/test", "--eval", "bfcl:ast", "--out-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: ") and "bfcl-eval" in err and f"`{bfcl_official.INSTALL}`" in err
    assert "Traceback" not in err


@needs_bfcl
def test_the_checker_is_told_a_model_config_that_says_how_the_model_was_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bfcl_eval.constants.model_config import MODEL_CONFIG_MAPPING

    for native in (True, False):
        name = bfcl_official.checker_model(native)
        assert "_" not in name  # the checker reads `_` in the name back as `/`
        assert MODEL_CONFIG_MAPPING[name].underscore_to_dot is native
    monkeypatch.delitem(MODEL_CONFIG_MAPPING, bfcl_official.CHECKER_MODELS[True])
    with pytest.raises(InputError, match=r"'gpt-4.1-2025-04-14-FC'.* has no such entry: install .*make bfcl"):
        bfcl_official.checker_model(True)
