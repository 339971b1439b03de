"""What an evaluation is and where it goes, shared by every kind of source (`flows/evaluate.py` for
runs and ToolAlpaca files, `flows/evaluate_bfcl.py` for BFCL exports): its settings, its id and its
folder under `<out-dir>/evaluations/`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from agents.llm.config import LLMConfig
from flows.export import ExportSettings
from schemas.errors import InputError
from schemas.option import Option
from tasks.evaluation.play import PlaySettings

SourceFormat = Literal["auto", "run", "toolalpaca", "bfcl"]
EVALUATIONS = "evaluations"


def simulator_defaults() -> LLMConfig:
    """The simulators' and the judge's settings unless given: 4 cases in flight, greedy sampling."""
    return LLMConfig(concurrency=4, temperature=0.0)


SIMULATORS = Option(
    group="simulators and judge (the simulated user and tool executor, and the judge)",
    only=("model", "api_base", "concurrency", "cache_dir", "seed", "temperature"),
    flags={"model": "simulator-model", "api_base": "simulator-api-base"},
)
"""The command-line options of the simulators' settings (`flows.train --evaluate` offers fewer)."""


class EvaluateConfig(BaseModel):
    """What to evaluate, on what, and how."""

    models: Annotated[list[str], Option(flag="model", metavar="MODEL", repeat=True)] = Field(
        default_factory=list,
        description="A model under test: a litellm model, local/smollm2 or local/FILE.gguf, or hf/FOLDER "
        "(a Hugging Face model folder); repeat to compare. Without one, a BFCL source needs --answers.",
    )
    source: Annotated[str, Option(flag="eval", metavar="SOURCE")] = Field(
        description="What to evaluate on: a run id, latest or run folder (its eval split); a ToolAlpaca "
        "evaluation file; a BFCL folder (bfcl export); bfcl:CATEGORY[,CATEGORY...] (BFCL's official test set "
        "from the installed bfcl-eval, scored by its checker; bfcl:ast for its single-turn AST categories)."
    )
    source_format: Annotated[SourceFormat, Option(flag="format")] = Field(
        default="auto", description="What SOURCE is (auto: found out)."
    )
    out_dir: Annotated[str, Option(metavar="DIR")] = Field(
        default="out", description="The run store; evaluations go under <out-dir>/evaluations."
    )
    split: Annotated[ExportSettings, Option(only=("eval_fraction", "split_seed", "split_by"))] = Field(
        default_factory=ExportSettings, description="A run source's split."
    )
    play: Annotated[PlaySettings, Option(only=("prompt_format", "max_steps", "step_tokens"))] = Field(
        default_factory=PlaySettings
    )
    judge: Annotated[bool, Option(flag="no-judge", group=SIMULATORS.group)] = Field(
        default=True,
        description="Ask the judge role for process and response verdicts (--no-judge: the rules only).",
    )
    judge_model: Annotated[str | None, Option(metavar="MODEL", group=SIMULATORS.group)] = Field(
        default=None, description="The judge's model (default: the simulators')."
    )
    model_api_base: Annotated[str | None, Option(flag="api-base", metavar="URL")] = Field(
        default=None, description="The OpenAI-compatible server of the models under test."
    )
    llm: Annotated[LLMConfig, SIMULATORS] = Field(
        default_factory=simulator_defaults, description="The simulators' and the judge's models."
    )
    limit: Annotated[int | None, Option(metavar="N")] = Field(
        default=None, ge=1, description="Evaluate the first N cases only (BFCL's official set: per category)."
    )
    answers: Annotated[str | None, Option(metavar="FILE")] = Field(
        default=None, description="BFCL: score this result file instead of asking a model."
    )

    @model_validator(mode="after")
    def _models_and_judge(self) -> EvaluateConfig:
        """Each model once ("answers" for a BFCL result file alone); the judge's model in `llm`."""
        self.models = list(dict.fromkeys(self.models)) or (["answers"] if self.answers else [])
        if not self.models:
            raise ValueError("give --model (or, for a BFCL folder, --answers FILE)")
        self.llm = self.llm.with_role("judge", self.judge_model)
        return self

    def model_llm(self, model: str) -> LLMConfig:
        """The settings of one model under test: the simulators' cache and limits, its own model and
        server, and no repair (what the model writes is what is scored)."""
        return self.llm.model_copy(
            update={"model": model, "role_models": {}, "api_base": self.model_api_base, "repair_attempts": 0}
        )


def new_eval_id(sha: str, config: EvaluateConfig) -> str:
    """`eval-<UTC time>-<8 hex>`: the hex from the cases, models and settings (the same for a repeat)."""
    about = json.dumps([sha, config.models, config.play.model_dump(), config.judge], sort_keys=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"eval-{stamp}-{hashlib.sha256(about.encode()).hexdigest()[:8]}"


def evaluation_folder(config: EvaluateConfig, eval_id: str) -> Path:
    if "://" in config.out_dir:
        raise InputError(f"--out-dir {config.out_dir}: evaluations are written to a local folder")
    return Path(config.out_dir).expanduser().resolve() / EVALUATIONS / eval_id
