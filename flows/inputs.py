"""What a run starts from, and everything that can be found wrong with it before any work.

`check_inputs` runs before Prefect starts (and again, cheaply, inside the flow): the run store can be
written, the seed list reads (or the earlier run to start from, or the run to resume, exists and
fits), and every model the chosen stages call answers (`agents.llm.preflight`). Each problem is an
`InputError`: one line, exit status 2, no run folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from agents.judge.agent import ROLE as JUDGE_ROLE
from agents.llm.config import LLMConfig
from agents.llm.gateway import LLMGateway
from agents.llm.preflight import check_models
from flows.budget import refuse_unpriced
from flows.config import CorpusConfig, Stage
from flows.ledger import HEARTBEAT_S
from schemas.errors import InputError
from schemas.manifest import Manifest
from schemas.seed import IngestProblem, Seed
from storage.run_store import RunStore
from tasks import seeds as seed_reader
from tasks import simulation, toolset
from tasks.contamination import read_test_set

STAGE_ROLES: dict[Stage, tuple[str, ...]] = {
    "toolset": toolset.ROLES,
    "instructions": simulation.INSTRUCTION_ROLES,
    "simulation": simulation.SIMULATION_ROLES,
}
RUN_SHAPING = ("seeds", "toolset", "simulation", "stages", "from_run", "verification")
"""The parts of the configuration a resumed run must share with the run it resumes (with the
models and the sampling settings): what decides which records the run makes."""
LLM_SHAPING = ("model", "role_models", "api_base", "temperature", "max_tokens", "seed", "repair_attempts")


def roles_for(config: CorpusConfig) -> list[str]:
    """The model roles the run calls, each once: its stages', and the judge's where it judges."""
    roles = [role for stage in config.stages for role in STAGE_ROLES[stage]]
    return list(dict.fromkeys([*roles, *([JUDGE_ROLE] if config.judging() else [])]))


def load_seeds(config: CorpusConfig) -> tuple[list[Seed], list[IngestProblem], dict[str, str]]:
    """The selected seeds, what the reader reported, and hashes of the inputs."""
    source = config.seeds.source or seed_reader.default_seeds_path()
    seeds, problems = seed_reader.read_seeds(source, config.seeds.format, config.seeds.encoding)
    selected = seed_reader.select_seeds(
        seeds,
        limit=config.seeds.limit,
        categories=config.seeds.categories or None,
        sample=config.seeds.sample,
        seed=config.seeds.sample_seed,
    )
    parsed = json.dumps([s.model_dump() for s in seeds], sort_keys=True).encode()
    inputs = {"seeds_parsed": hashlib.sha256(parsed).hexdigest()}
    if Path(source).is_file():
        inputs["seed_source"] = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    return selected, problems, inputs


def earlier_run(store: RunStore, run_id: str, with_instructions: bool) -> str:
    """The id of the run `--from-run` names (`latest` resolved), or InputError saying why it cannot be
    used: no such run, or one without the outputs the chosen stages start from."""
    run_id = store.latest_run_id() if run_id == "latest" else run_id
    runs = store.list_runs()
    if not run_id or run_id not in runs:
        latest = ", ".join(runs[-5:]) or "none"
        raise InputError(f"--from-run: no run {run_id!r} in {store.out} (latest runs: {latest})")
    needed = ["seeds", "tools", "rejected_tools", *(["instructions"] if with_instructions else [])]
    missing = [name for name in needed if not store.has_artifact(run_id, name)]
    if missing:
        missing_text = ", ".join(missing)
        raise InputError(f"--from-run: run {run_id} in {store.out} has no {missing_text} to start from")
    return run_id


def resumable_run(store: RunStore, run_id: str, config: CorpusConfig) -> str:
    """The id of the run `--resume` names (`latest`: the newest run that did not complete), checked:
    it exists, did not complete, and was made with the same configuration (InputError otherwise)."""
    if run_id == "latest":
        unfinished = [r for r in store.list_runs() if _status(store, r) not in ("completed", None)]
        if not unfinished:
            raise InputError(f"--resume latest: every run in {store.out} completed; nothing to resume")
        run_id = unfinished[-1]
    if run_id not in store.list_runs():
        raise InputError(f"--resume: no run {run_id!r} in {store.out}")
    manifest = store.read_manifest(run_id)
    if manifest.status == "completed":
        raise InputError(f"--resume: run {run_id} completed; there is nothing to resume")
    alive = still_running(manifest)
    if alive:
        raise InputError(f"--resume: run {run_id} {alive}; resume it once it has stopped")
    differences = config_differences(manifest, config)
    if differences:
        raise InputError(
            f"--resume: run {run_id} was made with other settings ({'; '.join(differences)}); "
            "resume it with the command that started it"
        )
    return run_id


def config_differences(manifest: Manifest, config: CorpusConfig) -> list[str]:
    """What differs, among the settings that shape a run's records, between a run and `config`."""
    now, then = config.public_dump(), manifest.config
    pairs = [(k, now.get(k), then.get(k)) for k in RUN_SHAPING]
    pairs += [(f"llm.{k}", now["llm"].get(k), (then.get("llm") or {}).get(k)) for k in LLM_SHAPING]
    return [f"{name}: {old!r} then, {new!r} now" for name, new, old in pairs if _plain(new) != _plain(old)]


def check_inputs(config: CorpusConfig, gateway: LLMGateway, resuming: bool = False) -> None:
    """What can be found wrong before any work (InputError): the run store, the seed list (when the
    run reads one) or the earlier run it starts from (unless it resumes a run, checked by
    `resumable_run`), the test sets of `--decontaminate`, every model the chosen stages call, and
    that each has a price when the run has a `--max-cost`."""
    store = writable_store(config)
    if not resuming and "toolset" in config.stages:
        load_seeds(config)
    elif not resuming:
        earlier_run(store, config.from_run or "latest", "instructions" not in config.stages)
    for source in config.verification.decontaminate:
        read_test_set(source)
    check_models(gateway, roles_for(config))
    refuse_unpriced(config.llm, config.budget, roles_for(config))


def writable_store(config: CorpusConfig) -> RunStore:
    """The run store `--out` names, once a file could be written to it (InputError otherwise)."""
    try:
        store = RunStore(config.out)
        store.check_writable()
    except (OSError, ValueError) as exc:
        raise InputError(f"--out {config.out}: the run store cannot be written: {exc}") from None
    return store


def still_running(manifest: Manifest) -> str:
    """Why a run whose manifest says `running` may really be running (empty when it is not): its
    process is alive on this host, or, on another host, it wrote its manifest within the heartbeat."""
    if manifest.status != "running":
        return ""
    host, _, pid = manifest.process.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return ""
        except PermissionError:
            pass
        return f"is still running (process {pid} on this host)"
    updated = manifest.updated_at or manifest.started_at
    if host and (datetime.now(UTC) - updated).total_seconds() < 3 * HEARTBEAT_S:
        return f"may still be running on {host} (its manifest was written at {updated:%H:%M:%S} UTC)"
    return ""


def _status(store: RunStore, run_id: str) -> str | None:
    try:
        return store.read_manifest(run_id).status
    except (OSError, ValueError):
        return None


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def with_secret_key(config: CorpusConfig) -> CorpusConfig:
    """`config` with the API key of the Prefect Secret block that `llm.secret_block` names (read
    once, held out of every dump); InputError when the block cannot be read."""
    return config.model_copy(update={"llm": llm_with_secret_key(config.llm)})


def llm_with_secret_key(llm: LLMConfig) -> LLMConfig:
    """`llm` with the API key of the Prefect Secret block its `secret_block` names (`with_secret_key`)."""
    if llm.secret_block is None or llm.api_key is not None:
        return llm
    from prefect.blocks.system import Secret

    try:
        key = Secret.load(llm.secret_block).get()
    except Exception as exc:  # not found, not a Secret, no server: the block cannot be used
        raise InputError(f"cannot read the Prefect Secret block {llm.secret_block!r}: {exc}") from None
    if not isinstance(key, str) or not key:
        raise InputError(f"the Prefect Secret block {llm.secret_block!r} holds no text key")
    return llm.model_copy(update={"api_key": SecretStr(key)})
