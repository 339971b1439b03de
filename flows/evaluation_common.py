"""What an evaluation is and where it goes, shared by every kind of source (`flows/evaluate.py` for
runs and ToolAlpaca files, `flows/evaluate_bfcl.py` for BFCL exports): its settings, its id and its
folder under `<out-dir>/evaluations/`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from agents.llm.config import LLMConfig
from flows.export import ExportSettings
from schemas.errors import InputError
from tasks.evaluation.play import PlaySettings

SourceFormat = Literal["auto", "run", "toolalpaca", "bfcl"]
EVALUATIONS = "evaluations"


class EvaluateConfig(BaseModel):
    """What to evaluate, on what, and how."""

    models: list[str] = Field(min_length=1, description="The models under test (litellm strings).")
    source: str = Field(description="A run id, latest or run folder; a ToolAlpaca file; a BFCL folder.")
    source_format: SourceFormat = "auto"
    out_dir: str = Field(
        default="out", description="The run store; evaluations go under <out_dir>/evaluations."
    )
    split: ExportSettings = Field(default_factory=ExportSettings, description="A run source's split.")
    play: PlaySettings = Field(default_factory=PlaySettings)
    judge: bool = Field(default=True, description="Ask the judge role for process and response verdicts.")
    model_api_base: str | None = Field(default=None, description="The server of the models under test.")
    llm: LLMConfig = Field(default_factory=LLMConfig, description="The simulators' and the judge's models.")
    limit: int | None = Field(default=None, ge=1, description="Evaluate the first N cases only.")
    answers: str | None = Field(default=None, description="BFCL: score this result file; no model is asked.")

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
