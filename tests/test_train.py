"""`python -m flows.train`: a tiny model made here (no download) fine-tuned on the shared fake-server
run, its loss on the assistant's tokens only, its checkpoint reloaded by `flows.evaluate --model
hf/DIR`, a training killed after its first checkpoint resumed, and bad input refused in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from bench import responders
from bench.fake_llm_server import FakeLLMServer
from flows import evaluate, train
from flows.export import ExportSettings, default_folder, export_run, run_split
from schemas.errors import InputError
from schemas.training import TrainingMetrics, TrainSettings
from storage.run_store import RunStore
from tasks.training import chat_template, rows
from tests.support.corpus_run import FakeRun
from tests.support.tiny_model import CHATML, save_tiny_model

pytestmark = pytest.mark.slow

SETTINGS = {
    "max_steps": 4,
    "save_steps": 2,
    "batch_size": 2,
    "max_length": 4096,
    "lora_r": 4,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama whose tokenizer has ChatML's tokens and whose own template renders no tools."""
    folder = tmp_path_factory.mktemp("tiny") / "base"
    plain = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    save_tiny_model(folder, chat_template=plain, specials=CHATML, positions=4096)
    return folder


@pytest.fixture(scope="module")
def hf_export(fake_run: FakeRun) -> Path:
    store = RunStore(str(fake_run.out))
    folder = default_folder(store, fake_run.run_id, "hf")
    if not (folder / "export.json").is_file():
        settings = ExportSettings()
        export_run(
            store, fake_run.run_id, "hf", folder, run_split(store, fake_run.run_id, settings), settings
        )
    return folder


def config(fake_run: FakeRun, tiny: Path, out: Path, **changes: object) -> train.TrainConfig:
    settings = TrainSettings(**{**SETTINGS, **changes.pop("train", {})})  # type: ignore[arg-type]
    given = {"corpus": fake_run.run_id, "base": str(tiny), "out": str(out), "out_dir": str(fake_run.out)}
    return train.TrainConfig(**{**given, "train": settings, **changes})  # type: ignore[arg-type]


# -- the loss falls on the assistant's tokens only ------------------------------------------------


def test_only_the_assistant_s_tokens_carry_loss(tiny: Path, hf_export: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    chosen = chat_template.training_template(tokenizer)
    assert chosen.source.endswith("chatml_tools.jinja")  # the base's own renders no tools
    source = list(rows.export_rows(hf_export, "chat", "train"))
    prepared = rows.prepare(tokenizer, "chat", iter(source), "train", 100_000, chosen.text)
    assert prepared.report.used == len(source) > 0 and not prepared.report.left_out
    for (_, row), ids, labels in zip(
        source, prepared.columns["input_ids"], prepared.columns["labels"], strict=True
    ):
        learned = tokenizer.decode([t for t, label in zip(ids, labels, strict=True) if label != rows.IGNORE])
        messages, tools = rows.chat_row(row)
        for message in messages:
            if message["role"] == "assistant":
                for call in message.get("tool_calls", []):
                    assert f'"name": "{call["function"]["name"]}"' in learned
                if message.get("content"):
                    assert message["content"] in learned
            elif message.get("content") and len(message["content"]) > 20:
                assert message["content"] not in learned, message["role"]  # user, system, tool results
        assert "<tools>" not in learned and tools[0]["function"]["description"] not in learned
        assert learned.count("<|im_end|>") == sum(m["role"] == "assistant" for m in messages)


def test_a_row_with_nothing_to_learn_or_cut_away_is_reported_not_dropped(tiny: Path, hf_export: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    template = chat_template.training_template(tokenizer).text
    row_id, row = next(rows.export_rows(hf_export, "chat", "train"))
    no_answer = {**row, "messages": [m for m in row["messages"] if m["role"] != "assistant"]}
    given = [("no-answer", no_answer), ("long", row), (row_id, row)]
    first_answer = rows.encode(tokenizer, "chat", row_id, row, template).mask.index(1)
    prepared = rows.prepare(tokenizer, "chat", iter(given), "train", first_answer, template)
    report = prepared.report
    assert (report.rows, report.used, report.cut) == (3, 0, 0)
    reasons = {left.row_id: left.reason for left in report.left_out}
    assert reasons["no-answer"] == "no assistant token to learn from"
    assert f"none of the assistant's within --max-length {first_answer}" in reasons["long"]
    cut = rows.prepare(tokenizer, "chat", iter(given[1:]), "train", first_answer + 5, template).report
    assert (cut.used, cut.cut, cut.left_out) == (2, 2, [])


def test_react_rows_learn_the_completion_and_its_end(tiny: Path, fake_run: FakeRun):
    from transformers import AutoTokenizer

    store = RunStore(str(fake_run.out))
    folder = default_folder(store, fake_run.run_id, "react")
    settings = ExportSettings()
    export_run(store, fake_run.run_id, "react", folder, run_split(store, fake_run.run_id, settings), settings)
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    source = list(rows.export_rows(folder, "react", "train"))[:5]
    prepared = rows.prepare(tokenizer, "react", iter(source), "train", 100_000, None)
    for (_, row), ids, labels in zip(
        source, prepared.columns["input_ids"], prepared.columns["labels"], strict=True
    ):
        learned = tokenizer.decode([t for t, label in zip(ids, labels, strict=True) if label != rows.IGNORE])
        assert learned == row["completion"] + tokenizer.eos_token


# -- train, save, reload, evaluate ----------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(fake_run: FakeRun, tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trained") / "model"
    return train.train_model(config(fake_run, tiny, out))


def test_a_training_leaves_a_checkpoint_that_loads_as_it_is(trained: Path, fake_run: FakeRun):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for name in ("config.json", "model.safetensors", "README.md", "metrics.json", "loss.svg", "train.log"):
        assert (trained / name).is_file(), name
    assert not (trained.parent / "model.training").exists()  # built aside, moved into place whole
    metrics = TrainingMetrics.model_validate_json((trained / "metrics.json").read_text())
    assert metrics.steps == 4 and metrics.corpus_run_id == fake_run.run_id
    assert metrics.tokens_seen > 0 and metrics.train_loss is not None and metrics.eval_loss is not None
    assert [p.step for p in metrics.losses] == [1, 2, 3, 4]
    assert metrics.train_rows.used > 0 and metrics.split["eval_tools"]
    assert metrics.device.startswith("cpu") and metrics.model_string == f"hf/{trained}"
    assert len(metrics.corpus_manifest_sha256) == 64
    card = (trained / "README.md").read_text()
    assert fake_run.run_id in card and "LoRA r=4" in card and "![loss](loss.svg)" in card
    model = AutoModelForCausalLM.from_pretrained(trained)  # merged: no peft needed
    assert not any("lora" in name for name, _ in model.named_parameters())
    tokenizer = AutoTokenizer.from_pretrained(trained)
    assert "{% generation %}" in tokenizer.chat_template and "<tools>" in tokenizer.chat_template


def test_the_checkpoint_is_evaluated_by_flows_evaluate(
    prefect_server, trained: Path, fake_run: FakeRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.0) as server:
        argv = [
            "--model", f"hf/{trained}", "--prompt-format", "native", "--eval", str(fake_run.run_dir),
            "--out-dir", str(fake_run.out), "--simulator-model", "openai/fake-sim",
            "--simulator-api-base", server.base_url, "--no-judge", "--limit", "2",
            "--cache-dir", str(tmp_path / "cache"),
        ]  # fmt: skip
        status = evaluate.main(argv)
    out, err = capsys.readouterr()
    assert status == 0, err
    manifest = json.loads((Path(out.strip().splitlines()[-1]) / "evaluation.json").read_text())
    assert manifest["status"] == "completed" and manifest["models"] == [f"hf/{trained}"]
    assert manifest["scores"][0]["cases"] == 2
    results = pd.read_parquet(Path(out.strip().splitlines()[-1]) / "results.parquet")
    for ending, detail in zip(results["ending"], results["ending_detail"], strict=True):
        # the random tiny model writes to the token limit or loops: what matters is that it loaded and wrote
        cut = "cut at the token limit" in detail or "caught in a loop" in detail
        assert ending != "llm_error" or cut, detail


KILLER = """
import os, signal, sys
from transformers import TrainerCallback
from flows import train

class KillAfterFirstCheckpoint(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

config = train.TrainConfig.model_validate_json(sys.argv[1])
train.train_model(config, callbacks=[KillAfterFirstCheckpoint()])
"""


def test_a_training_killed_after_its_first_checkpoint_resumes_from_it(
    fake_run: FakeRun, tiny: Path, tmp_path: Path
):
    out = tmp_path / "model"
    killed = config(fake_run, tiny, out)
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLER), killed.model_dump_json()],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    work = train.work_folder(out)
    assert (work / "checkpoints" / "checkpoint-2").is_dir() and not out.exists()
    with pytest.raises(InputError, match="--resume continues it"):
        train.train_model(killed)
    with pytest.raises(InputError, match="other train"):
        train.train_model(config(fake_run, tiny, out, resume=True, train={"learning_rate": 1e-3}))
    made = train.train_model(killed.model_copy(update={"resume": True}))
    metrics = TrainingMetrics.model_validate_json((made / "metrics.json").read_text())
    assert metrics.resumed_from_step == 2 and metrics.steps == 4
    assert [p.step for p in metrics.losses] == [1, 2, 3, 4]  # the killed run's steps, kept in its checkpoint
    assert not work.exists()
    assert "resumed at step 2/4" in (made / "train.log").read_text()


# -- bad input: one error line, exit 2, nothing written -------------------------------------------


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = train.main(argv)
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--base", "/nowhere/model"], "no such model folder or GGUF file"),
        (["--corpus", "no-such-run"], "no run 'no-such-run'"),
        (["--learning-rate", "-1"], "error: --learning-rate: Input should be greater than 0"),
        (["--chat-template", "/nowhere.jinja"], "--chat-template /nowhere.jinja: no such file"),
    ],
)
def test_bad_input_is_one_error_line(fake_run: FakeRun, tiny: Path, tmp_path: Path, capsys, extra, message):
    argv = ["--corpus", fake_run.run_id, "--out-dir", str(fake_run.out), "--base", str(tiny),
            "--out", str(tmp_path / "model"), *extra]  # fmt: skip
    status, err = run_main(argv, capsys)
    assert status == 2 and err.startswith("error: ") and message in err, err
    assert err.count("\n") == 1 and not (tmp_path / "model").exists()
    assert not (tmp_path / "model.training").exists()


def test_a_gpu_asked_for_and_absent_is_refused(fake_run: FakeRun, tiny: Path, tmp_path: Path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    argv = ["--corpus", fake_run.run_id, "--out-dir", str(fake_run.out), "--base", str(tiny),
            "--out", str(tmp_path / "model"), "--device", "cuda"]  # fmt: skip
    status, err = run_main(argv, capsys)
    assert status == 2 and "--device cuda: no CUDA GPU" in err


def test_a_corpus_of_the_other_format_or_without_training_rows_is_refused(
    fake_run: FakeRun, tiny: Path, hf_export: Path, tmp_path: Path
):
    with pytest.raises(InputError, match="is a hf export; --format react trains on a react export"):
        train.train_model(
            config(fake_run, tiny, tmp_path / "a", corpus=str(hf_export), train={"format": "react"})
        )
    empty = tmp_path / "empty"
    (empty / "data").mkdir(parents=True)
    (empty / "export.json").write_text((hf_export / "export.json").read_text())
    with pytest.raises(InputError, match="no training row"):
        train.train_model(config(fake_run, tiny, tmp_path / "b", corpus=str(empty)))
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.training").exists()


def test_a_template_with_no_tools_and_no_chatml_tokens_is_refused(tmp_path: Path):
    from transformers import AutoTokenizer

    save_tiny_model(tmp_path / "plain", chat_template="{{ messages[0]['content'] }}")
    with pytest.raises(InputError, match="give --chat-template FILE"):
        chat_template.training_template(AutoTokenizer.from_pretrained(tmp_path / "plain"))


def test_train_then_evaluate_prints_both_models_and_their_difference(
    prefect_server, fake_run: FakeRun, tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "model"
    with FakeLLMServer(responder=responders.toolforge, latency_s=0.0) as server:
        argv = [
            "--corpus", str(fake_run.run_dir), "--base", str(tiny), "--out", str(out),
            *(f"--{k.replace('_', '-')}={v}" for k, v in SETTINGS.items()),
            "--evaluate", "--no-judge", "--limit", "2", "--simulator-model", "openai/fake-sim",
            "--simulator-api-base", server.base_url, "--cache-dir", str(tmp_path / "cache"),
        ]  # fmt: skip
        status = train.main(argv)
    printed = capsys.readouterr()
    err = printed.err
    assert status == 0, err
    lines = [line for line in printed.out.splitlines() if line.strip()]
    evaluation = json.loads((Path(lines[-2]) / "evaluation.json").read_text())
    base_copy = out.with_name("model.base")  # the tiny base's own template renders no tools
    assert evaluation["models"] == [f"hf/{base_copy}", f"hf/{out}"] and lines[-1] == str(out)
    assert evaluation["prompt_format"] == "native" and evaluation["scores"][1]["cases"] == 2
    assert "| difference | 0 |" in err
    from transformers import AutoTokenizer

    assert "<tools>" in AutoTokenizer.from_pretrained(base_copy).chat_template


def test_a_full_fine_tune_trains_every_weight(fake_run: FakeRun, tiny: Path, tmp_path: Path):
    made = train.train_model(config(fake_run, tiny, tmp_path / "full", train={"full": True, "max_steps": 2}))
    metrics = TrainingMetrics.model_validate_json((made / "metrics.json").read_text())
    assert metrics.trainable_parameters == metrics.parameters and metrics.steps == 2
    assert "full fine-tune" in (made / "README.md").read_text()
