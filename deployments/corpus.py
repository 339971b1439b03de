"""ToolForge's Prefect deployments, defined once: served from one process, or deployed to a work pool.

- `corpus`: a corpus run on demand (the UI's "Run" or `prefect deployment run toolforge-corpus/corpus`),
  its parameter a form made from `CorpusConfig` (types, defaults, descriptions).
- `export`: the export flow (`toolforge-export/export`) over the latest run of the same run store,
  its parameters (run, formats, split) a form in the UI; it writes `<run>/exports/<format>/`.
- `evaluate`: the evaluation flow (`toolforge-evaluate/evaluate`): models (the embedded one by default)
  on the eval split of the latest run of the same run store; it writes `<out>/evaluations/<id>/`.
- `train`: the training flow (`toolforge-train/train`): the embedded SmolLM2-135M fine-tuned with LoRA on
  the train split of the latest run of the same run store; it writes `<out>/models/latest/` (the form
  takes any base, format and hyperparameters, and `evaluate` for the side-by-side table).
- `forecast`: the corpus deployment's run forecast (`--forecast`: a sample of its seeds run, the whole
  run's calls, tokens, dollars, accepted dialogues and wall time projected; `docs/cost.md`), its table
  the flow run's `corpus-forecast` artifact; the form's `forecast.tools` sizes the sample.
- `regeneration`: the same flow on a cron schedule (nightly by default) that re-reads its seed list
  (a path or URL, such as the public-apis README) and regenerates the corpus. Unchanged seeds cost
  no LLM call (the answers are cached); the run is of the series named after the deployment, so its
  manifest and a markdown artifact list the tools added, removed and changed since the previous run.

No parameter holds a secret: a key stays in the environment of whatever runs the flow (the serving
process, or the worker), or in a Prefect Secret block the deployment names (`secret_block`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import Flow

from flows.config import CorpusConfig, SeedSelection
from flows.corpus import corpus_flow
from flows.evaluate import EvaluateConfig, evaluate_flow
from flows.export import export_flow
from flows.train import TrainConfig, train_flow

REPO = Path(__file__).resolve().parents[1]
ENTRYPOINT = "flows/corpus.py:corpus_flow"
EXPORT_ENTRYPOINT = "flows/export.py:export_flow"
EXPORT = "export"
EVALUATE_ENTRYPOINT = "flows/evaluate.py:evaluate_flow"
EVALUATE = "evaluate"
TRAIN_ENTRYPOINT = "flows/train.py:train_flow"
TRAIN = "train"
PUBLIC_APIS = "https://raw.githubusercontent.com/public-apis/public-apis/master/README.md"
NIGHTLY = "0 3 * * *"
REGENERATION = "regeneration"
FORECAST = "forecast"
TAGS = ["toolforge"]


def parameters(config: CorpusConfig) -> dict[str, Any]:
    """A deployment's parameters: the settings that differ from the defaults, as JSON (the worker
    fills in the rest, its own cache folder among them); never a secret (`LLMConfig` dumps none)."""
    return {"config": config.model_dump(mode="json", exclude_defaults=True)}


def export_parameters(base: CorpusConfig) -> dict[str, Any]:
    """The export deployment's parameters: the latest run of the corpus deployments' run store."""
    out = base.out if "://" in base.out else str(Path(base.out).resolve())
    return {"run": "latest", "formats": ["hf"], "out_dir": out}


def evaluate_parameters(base: CorpusConfig) -> dict[str, Any]:
    """The evaluate deployment's parameters: the corpus's model (on its server) evaluated on the eval
    split of the latest run of the same run store, the corpus's model simulating and judging."""
    out = base.out if "://" in base.out else str(Path(base.out).resolve())
    config = EvaluateConfig(
        models=[base.llm.model], source="latest", out_dir=out, model_api_base=base.llm.api_base, llm=base.llm
    )
    return {"config": config.model_dump(mode="json", exclude_defaults=True)}


def train_parameters(base: CorpusConfig) -> dict[str, Any]:
    """The train deployment's parameters (a local run store only: the model is written beside it): the
    embedded model fine-tuned on the latest run of the store, into `<out>/models/latest`; evaluated
    (when the form says so) with the corpus's model simulating and judging."""
    out = str(Path(base.out).resolve())
    config = TrainConfig(corpus="latest", out=str(Path(out) / "models" / "latest"), out_dir=out, llm=base.llm)
    return {"config": config.model_dump(mode="json", exclude_defaults=True)}


def configs(base: CorpusConfig, regeneration_seeds: str | None = None) -> dict[str, CorpusConfig]:
    """Each deployment's configuration: `base` as given; its forecast (`--forecast`); and `base`
    reading `regeneration_seeds` (the public-apis README unless given) as the series `regeneration`."""
    if "://" not in base.out:  # a local run store, made absolute: a worker runs elsewhere
        base = base.model_copy(update={"out": str(Path(base.out).resolve())})
    corpus = base.model_copy(update={"seeds": _absolute(base.seeds)})
    source = regeneration_seeds or base.seeds.source or PUBLIC_APIS
    seeds = _absolute(base.seeds.model_copy(update={"source": source}))
    regeneration = base.model_copy(update={"seeds": seeds, "series": REGENERATION})
    forecast = corpus.model_copy(update={"forecast": corpus.forecast.model_copy(update={"enabled": True})})
    return {"corpus": corpus, FORECAST: forecast, REGENERATION: regeneration}


def _absolute(seeds: SeedSelection) -> SeedSelection:
    """A seed list given as a path that exists here, made absolute: a worker runs elsewhere."""
    if seeds.source and "://" not in seeds.source and Path(seeds.source).exists():
        return seeds.model_copy(update={"source": str(Path(seeds.source).resolve())})
    return seeds


def runner_deployments(
    base: CorpusConfig, cron: str = NIGHTLY, regeneration_seeds: str | None = None
) -> list[Any]:
    """The deployments served from this process (`serve`)."""
    flows = {"corpus": corpus_flow, EXPORT: export_flow, EVALUATE: evaluate_flow, TRAIN: train_flow}
    return _deployments(flows, base, cron, regeneration_seeds)


def deploy(
    base: CorpusConfig,
    work_pool: str,
    cron: str = NIGHTLY,
    regeneration_seeds: str | None = None,
    source: Path = REPO,
) -> list[str]:
    """Register the deployments with a work pool through `prefect.deploy` (a `process` pool runs them
    from `source`, a folder every worker of the pool can read); returns their ids. Prefect's table of
    what it applied goes to stderr, so that stdout holds the ids alone."""
    from prefect import deploy as prefect_deploy

    entrypoints = {
        "corpus": ENTRYPOINT,
        EXPORT: EXPORT_ENTRYPOINT,
        EVALUATE: EVALUATE_ENTRYPOINT,
        TRAIN: TRAIN_ENTRYPOINT,
    }
    flows = {
        name: Flow.from_source(source=str(source), entrypoint=point) for name, point in entrypoints.items()
    }
    made = _deployments(flows, base, cron, regeneration_seeds)
    with contextlib.redirect_stdout(sys.stderr):
        ids = prefect_deploy(
            *made,
            work_pool_name=work_pool,
            build=False,  # a process pool runs the flows from `source`: no image
            push=False,
            print_next_steps_message=False,
            ignore_warnings=True,
        )
    if len(ids) != len(made):
        failed = len(made) - len(ids)
        raise DeployError(f"{failed} of {len(made)} deployments to work pool {work_pool} failed (see above)")
    return [str(deployment_id) for deployment_id in ids]


class DeployError(RuntimeError):
    """Prefect refused some of the deployments."""


def _deployments(
    flows: dict[str, Any], base: CorpusConfig, cron: str, regeneration_seeds: str | None
) -> list[Any]:
    """The deployments of `flows` (the corpus, export, evaluate and train flows, by deployment name):
    corpus and regeneration, export, evaluate, and train when the run store is a local folder."""
    made = []
    for name, config in configs(base, regeneration_seeds).items():
        schedule = {"cron": cron} if name == REGENERATION else {}
        made.append(
            flows["corpus"].to_deployment(name=name, parameters=parameters(config), tags=TAGS, **schedule)
        )
    made.append(flows[EXPORT].to_deployment(name=EXPORT, parameters=export_parameters(base), tags=TAGS))
    made.append(flows[EVALUATE].to_deployment(name=EVALUATE, parameters=evaluate_parameters(base), tags=TAGS))
    if "://" not in base.out:
        made.append(flows[TRAIN].to_deployment(name=TRAIN, parameters=train_parameters(base), tags=TAGS))
    return made


def serve(deployments: Sequence[Any]) -> None:
    from prefect import serve as prefect_serve

    prefect_serve(*deployments)
