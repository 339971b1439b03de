"""`python -m flows.evaluate`: models evaluated on a run's eval split, on a ToolAlpaca file and on a
BFCL export, through the Prefect flow and the fake LLM server; what the evaluation's folder holds,
the printed table, a repeated evaluation that asks nothing, and bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bench import responders
from bench.fake_llm_server import FakeLLMServer
from flows import evaluate
from flows.export import ExportSettings, export_run, run_split
from schemas.arrow import from_table
from schemas.evaluation import ERROR_KINDS, EvalResult, EvaluationManifest
from schemas.react import react_turns
from storage.run_store import RunStore
from tasks.evaluation.procedure import procedure_verdict
from tasks.evaluation.scores import model_scores
from tasks.evaluation.toolalpaca_file import read_toolalpaca
from tests.support.corpus_run import FakeRun


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.0) as fake:
        yield fake


def command(server: FakeLLMServer, source: str, tmp_path: Path, *extra: str) -> list[str]:
    """The fake model under test and fake simulators, on the fake server."""
    return [
        "--model", "openai/fake-model", "--api-base", server.base_url,
        "--simulator-model", "openai/fake-sim", "--simulator-api-base", server.base_url,
        "--eval", source, "--cache-dir", str(tmp_path / "cache"), *extra,
    ]  # fmt: skip


def run_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = evaluate.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_a_run_s_eval_split(prefect_server, fake_run: FakeRun, server, tmp_path, capsys):
    store = RunStore(str(fake_run.out))
    split = run_split(store, fake_run.run_id, ExportSettings())
    argv = command(server, str(fake_run.run_dir), tmp_path, "--out-dir", str(fake_run.out))
    status, out, err = run_command(argv, capsys)
    assert status == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert folder.parent == fake_run.out.resolve() / "evaluations"
    manifest = EvaluationManifest.model_validate_json((folder / "evaluation.json").read_text())
    assert manifest.status == "completed" and manifest.models == ["openai/fake-model"]
    assert manifest.source_kind == "run" and fake_run.run_id in manifest.source
    assert manifest.prompts["assistant/react"] and manifest.prompts["judge/trajectory"]
    results = pd.read_parquet(folder / "results.parquet")
    eval_tools = set(split.eval_tools)
    # every case is a dialogue on held-out tools only, and each was evaluated
    assert len(results) == manifest.cases > 0
    assert all(set(tools) <= eval_tools for tools in results["tool_ids"])
    assert set(results["ending"]) <= {
        "final_answer",
        "parse_error",
        "step_limit",
        "llm_error",
        "simulator_error",
    }
    assert (results["model_calls"] > 0).all()
    scores = pd.read_parquet(folder / "scores.parquet")
    assert list(scores["model"]) == ["openai/fake-model"] and scores["cases"][0] == manifest.cases
    # the table on stderr, with the columns' meaning in the report
    assert "| model | cases | procedure | rule proc. | response | overall | call acc." in err
    report = (folder / "report.md").read_text()
    assert "## Columns" in report and "**illusory**" in report
    assert set(dict(scores["errors"][0])) == set(ERROR_KINDS)
    # the rule procedure verdict beside the judge's: in results.parquet, as the verdict on each
    # trajectory, and its share in the table; a results file written before it still reads
    (config,) = evaluate.COMMAND.parse(argv)
    cases = {case.case_id: case for case in evaluate.load_cases(config)[0].cases}
    table = pq.read_table(folder / "results.parquet")
    records = from_table(EvalResult, table)
    assert [(r.rule_procedure, r.rule_procedure_reason) for r in records] == [
        procedure_verdict(cases[r.case_id], react_turns(r.messages)) for r in records
    ]
    share = sum(bool(r.rule_procedure) for r in records) / len(records)
    assert scores["rule_procedure"][0] == round(share, 4)
    assert f"| {manifest.cases} | {100 * manifest.scores[0].procedure:.1f}% | {100 * share:.1f}% |" in err
    older = from_table(EvalResult, table.drop_columns(["rule_procedure", "rule_procedure_reason"]))
    assert {r.rule_procedure for r in older} == {None}
    assert model_scores("openai/fake-model", older).rule_procedure is None

    # the same evaluation again: every answer from the cache
    before = server.completions
    status, out, _ = run_command(argv, capsys)
    assert status == 0 and server.completions == before
    again = pd.read_parquet(Path(out.strip().splitlines()[-1]) / "results.parquet")
    assert again.drop(columns=["messages"]).equals(results.drop(columns=["messages"]))


def test_a_toolalpaca_file(prefect_server, fake_run: FakeRun, server, tmp_path, capsys):
    """The run's eval split exported in ToolAlpaca's format, read back as an evaluation file."""
    store = RunStore(str(fake_run.out))
    settings = ExportSettings()
    export_run(
        store,
        fake_run.run_id,
        "toolalpaca",
        tmp_path / "ta",
        run_split(store, fake_run.run_id, settings),
        settings,
    )
    (source,) = [p for p in (tmp_path / "ta").glob("*eval*.json")]
    argv = command(
        server, str(source), tmp_path, "--out-dir", str(tmp_path / "out"), "--no-judge", "--limit", "3"
    )
    status, out, err = run_command(argv, capsys)
    assert status == 0, err
    folder = Path(out.strip().splitlines()[-1])
    manifest = EvaluationManifest.model_validate_json((folder / "evaluation.json").read_text())
    scorable = len(read_toolalpaca(source).cases)  # those calling only the functions of their own tool
    assert scorable > 0 and manifest.source_kind == "toolalpaca" and manifest.cases == min(3, scorable)
    results = pd.read_parquet(folder / "results.parquet")
    assert set(results["procedure"]) == {"unjudged"} and not results["overall"].any()


def test_a_bfcl_export(prefect_server, fake_run: FakeRun, server, tmp_path, capsys):
    store = RunStore(str(fake_run.out))
    settings = ExportSettings()
    bfcl = tmp_path / "bfcl"
    export_run(store, fake_run.run_id, "bfcl", bfcl, run_split(store, fake_run.run_id, settings), settings)
    # the possible answers themselves, as a result file: every question right
    lines = []
    for path in sorted(bfcl.glob("BFCL_v4_*.json")):
        answers = bfcl / "possible_answer" / path.name
        truth = {}
        if answers.exists():
            for line in answers.read_text().splitlines():
                row = json.loads(line)
                truth[row["id"]] = [
                    {name: {k: v[0] for k, v in arguments.items() if v[0] != ""}}
                    for call in row["ground_truth"]
                    for name, arguments in call.items()
                ]
        for line in path.read_text().splitlines():
            question = json.loads(line)["id"]
            lines.append(json.dumps({"id": question, "result": truth.get(question, [])}))
    result_file = tmp_path / "result.json"
    result_file.write_text("\n".join(lines) + "\n")
    status, out, err = run_command(
        ["--eval", str(bfcl), "--answers", str(result_file), "--out-dir", str(tmp_path)], capsys
    )
    assert status == 0, err
    scores = json.loads((Path(out.strip()) / "bfcl_scores.json").read_text())
    accuracy = scores["accuracy"]["result.json"]
    assert accuracy["overall"] == 1.0
    assert list(accuracy) == [*sorted(c for c in accuracy if c != "overall"), "overall"]  # the summary last
    # a model asked: its answers in BFCL's result format, scored
    status, out, err = run_command(command(server, str(bfcl), tmp_path, "--out-dir", str(tmp_path)), capsys)
    assert status == 0, err
    folder = Path(out.strip())
    assert list((folder / "answers" / "openai_fake-model").glob("BFCL_v4_*_result.json"))
    assert "| `openai/fake-model` |" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "openai/x", "--eval", "no-such-run"], "no run 'no-such-run'"),
        (["--model", "openai/x", "--eval", "latest"], "no published run"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path, capsys, argv, message):
    status, out, err = run_command(
        [*argv, "--out-dir", str(tmp_path), "--cache-dir", str(tmp_path / "c")], capsys
    )
    assert status == 2 and out == ""
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_a_toolalpaca_file_that_is_not_json(tmp_path, capsys):
    bad = tmp_path / "eval.json"
    bad.write_text("not json")
    status, _, err = run_command(
        ["--model", "openai/x", "--eval", str(bad), "--out-dir", str(tmp_path)], capsys
    )
    assert status == 2 and str(bad) in err


def test_a_model_that_cannot_serve_is_one_error_line(fake_run: FakeRun, tmp_path, capsys):
    argv = [
        "--model",
        f"hf/{tmp_path}/no-model",
        "--eval",
        str(fake_run.run_dir),
        "--cache-dir",
        str(tmp_path),
    ]
    status, out, err = run_command(argv, capsys)
    assert status == 2 and out == "" and "Traceback" not in err
    assert err.startswith("error: role assistant: model hf/") and "model folder not found" in err
