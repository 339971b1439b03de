"""`--decontaminate` in a corpus run (`flows.decontamination`): a planted near-copy of a BFCL question is
rejected as its tool's instructions are filed, naming the test question, and every other instruction
is kept; the manifest's counts reconcile, a resumed run takes the rejections up, the export's card
names the test set, and a source that cannot be read fails before the run starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import responders
from flows import corpus, export
from flows.config import VerificationSettings
from flows.resumption import done_ids
from schemas.rejection import Rejection
from tasks.batch import Batch
from tasks.simulation import ToolInstructions
from tests.support.corpus_flow import corpus_config, manifest_of, run_corpus, table, write_seeds
from tests.support.fake_llm import ScriptedLLM
from tests.support.run_units import corpus_run, instruction, returned
from tests.support.scripts import atlas_tool

TRIANGLE = "Find the area of a triangle with a base of 10 units and height of 5 units."
"""BFCL's simple_python_0, word for word."""
PLANTED = "Please find the area of a triangle with a base of 10 units and height of 5 units."
"""What the scripted user agent writes among Cat Facts' requests: a near-copy of it (Jaccard 13/14)."""


def bfcl_folder(tmp_path: Path) -> Path:
    """A test set in BFCL's format: the planted question's original and an unrelated one."""
    folder = tmp_path / "bfcl"
    folder.mkdir()
    rows = [
        {"id": "simple_python_0", "question": [[{"role": "user", "content": TRIANGLE}]], "function": []},
        {"id": "simple_python_1", "question": [[{"role": "user", "content": "Calculate 5 factorial."}]]},
    ]
    (folder / "BFCL_v4_simple_python.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def planting(request: dict[str, Any]) -> str | dict[str, Any]:
    """`responders.toolforge`, but the first request of each of Cat Facts' batches is `PLANTED`."""
    answer = responders.toolforge(request)
    text = "\n".join(str(m.get("content", "")) for m in request["messages"])
    if responders.schema_name(request) == "InstructionBatch" and "API: Cat Facts (" in text:
        batch = json.loads(answer)  # type: ignore[arg-type]
        batch["instructions"][0]["text"] = PLANTED
        return json.dumps(batch)
    return answer


def test_filing_rejects_the_near_copy_and_counts_reconcile_also_when_resumed(
    tmp_path, llm_config, scripted_llm
):
    folder = bfcl_folder(tmp_path)
    settings = {"verification": VerificationSettings(decontaminate=[str(folder)])}
    store, run = corpus_run(tmp_path, llm_config, **settings)
    tool = atlas_tool(scripted_llm, llm_config)
    planted = instruction(2).model_copy(update={"text": PLANTED})
    written = ToolInstructions(tool_id="atlas", instructions=[instruction(1), planted, instruction(3)])
    only_planted = ToolInstructions(
        tool_id="globe", instructions=[instruction(1, "globe").model_copy(update={"text": TRIANGLE})]
    )
    globe = tool.model_copy(update={"tool_id": "globe"})
    batch = Batch(results=[(tool, written), (globe, only_planted)])
    run.board.expect("instructions", 2)
    (unit,) = run.filing.file_instructions([tool, globe], returned(batch))  # globe: nothing left to simulate
    assert [i.instruction_id for i in unit.instructions] == ["atlas-1", "atlas-3"]
    run.ledger.write_manifest("running", task_runs=1)
    run.writer.close_parts()

    assert sorted(store.read_column("run", "instructions", "instruction_id")) == ["atlas-1", "atlas-3"]
    rejections = store.read_records("run", "rejections", Rejection)
    assert [(r.item_id, r.step, r.rule) for r in rejections] == [
        ("atlas-2", "decontamination", "test_set_overlap"),
        ("globe-1", "decontamination", "test_set_overlap"),
    ]
    assert f"test question {folder} simple_python_0 (word Jaccard 0.93)" in rejections[0].reason
    assert TRIANGLE in rejections[0].reason and "Jaccard 1.00" in rejections[1].reason
    stages = {s.name: s for s in run.ledger.stage_stats()}
    assert (stages["decontamination"].inputs, stages["decontamination"].outputs) == (4, 2)
    assert stages["decontamination"].rejected == 2 and run.ledger.tools_with_instructions == {
        "atlas",
        "globe",
    }
    assert run.ledger.inputs["test_sets"] == f"{folder} (2 questions)"

    store, resumed = corpus_run(tmp_path, llm_config, resume=True, **settings)
    done = done_ids(store, "run", resumed.ledger)
    assert done["instructions"] == {"atlas", "globe"}  # globe, whose every instruction left, is not redone
    stages = {s.name: s for s in resumed.ledger.stage_stats()}
    assert (stages["decontamination"].inputs, stages["decontamination"].rejected) == (4, 2)


@pytest.mark.usefixtures("prefect_server")
def test_a_run_drops_the_planted_copy_keeps_the_rest_and_its_card_names_the_test_set(
    scripted_llm: ScriptedLLM, llm_config, tmp_path, capsys
):
    scripted_llm.script = planting
    folder = bfcl_folder(tmp_path)
    config = corpus_config(llm_config, tmp_path, write_seeds(tmp_path))
    plain = run_corpus(config)  # the same answers (cached): what the run writes without the check
    config.verification.decontaminate = [str(folder)]
    run_dir = run_corpus(config)

    written = table(plain, "instructions")
    planted = set(written.loc[written["text"] == PLANTED, "instruction_id"])
    assert planted and all(i.startswith("cat-facts-") for i in planted)
    kept = table(run_dir, "instructions")
    assert set(kept["instruction_id"]) == set(written["instruction_id"]) - planted  # the rest, all kept
    assert not set(table(run_dir, "dialogs")["dialog_id"]) & planted
    rejections = table(run_dir, "rejections")
    dropped = rejections[rejections["step"] == "decontamination"]
    assert set(dropped["item_id"]) == planted and set(dropped["rule"]) == {"test_set_overlap"}
    assert all(f"{folder} simple_python_0" in reason for reason in dropped["reason"])

    manifest = manifest_of(run_dir)
    stages = {s["name"]: s for s in manifest["stages"]}
    assert (stages["decontamination"]["inputs"], stages["decontamination"]["outputs"]) == (
        len(written),
        len(kept),
    )
    assert stages["decontamination"]["rejected"] == len(planted)
    assert stages["simulation"]["inputs"] == len(kept)
    counted = {(r["step"], r["rule"]): r["count"] for r in manifest["statistics"]["rejections"]}
    assert counted[("decontamination", "test_set_overlap")] == len(planted)

    capsys.readouterr()
    assert export.main([run_dir.name, "--format", "hf", "--out-dir", config.out]) == 0
    card = (Path(capsys.readouterr().out.strip().splitlines()[-1]) / "README.md").read_text(encoding="utf-8")
    (line,) = [line for line in card.splitlines() if line.startswith("- checked against test sets:")]
    assert line.startswith(
        f"- checked against test sets: {folder} (2 questions); {len(planted)} instructions (each "
        "dialogue's first request; multi-turn follow-ups are not compared) dropped"
    )


@pytest.mark.usefixtures("prefect_server")
def test_a_source_that_cannot_be_read_fails_before_the_run(scripted_llm: ScriptedLLM, tmp_path, capsys):
    scripted_llm.script = responders.toolforge
    out = tmp_path / "out"
    argv = ["--seeds", str(write_seeds(tmp_path)), "--out", str(out), "--model", "scripted/test"]
    empty = tmp_path / "empty"
    empty.mkdir()
    for source, message in (
        (tmp_path / "missing.json", "no such file or folder"),
        (empty, "no JSON Lines file"),
    ):
        assert corpus.main([*argv, "--decontaminate", str(source)]) == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert error.startswith(f"error: --decontaminate {source}") and message in error
    assert not (out / "runs").exists()
