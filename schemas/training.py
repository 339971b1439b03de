"""A fine-tuning run's options and records: what it was asked to do (`TrainSettings`), which rows it
trained on and which it could not (`TrainingRows`), and what it left (`TrainingMetrics`, the
checkpoint folder's `metrics.json`, from which its model card is written)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

TrainFormat = Literal["chat", "react"]
"""`chat`: the `hf` export's messages with tools (native function calling); `react`: the `react`
export's prompt/completion text (ToolAlpaca's ReAct format)."""
DeviceChoice = Literal["auto", "cpu", "cuda"]
EXPORT_OF_FORMAT: dict[TrainFormat, str] = {"chat": "hf", "react": "react"}
"""The export each training format reads."""
PROMPT_FORMAT_OF: dict[TrainFormat, str] = {"chat": "native", "react": "react"}
"""The `flows.evaluate --prompt-format` a model trained in each format is asked in."""


class TrainSettings(BaseModel):
    """How to fine-tune: the adapter, the optimisation and the sequences."""

    format: TrainFormat = Field(
        default="chat",
        description="chat: the hf export's messages with tools (native function calling); react: the "
        "react export's prompt/completion text (ToolAlpaca's format).",
    )
    full: bool = Field(default=False, description="Train every weight instead of LoRA adapters.")
    lora_r: int = Field(default=16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(default=32, ge=1, description="LoRA alpha (the adapters' scale is alpha / r).")
    lora_dropout: float = Field(default=0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA adapters.")
    lora_targets: list[str] = Field(
        default_factory=lambda: ["all-linear"],
        description="The modules LoRA adapts: all-linear (peft picks every linear layer of the "
        "architecture but the output head) or module names such as q_proj, v_proj.",
    )
    epochs: float = Field(default=2.0, gt=0, description="Passes over the training rows.")
    max_steps: int | None = Field(
        default=None, ge=1, description="Stop after this many optimizer steps (overrides epochs)."
    )
    learning_rate: float = Field(default=2e-4, gt=0, description="Peak learning rate (cosine decay).")
    batch_size: int = Field(default=4, ge=1, description="Rows per optimizer step, before accumulation.")
    grad_accum: int = Field(default=1, ge=1, description="Batches accumulated per optimizer step.")
    max_length: int = Field(
        default=2048, ge=16, description="Tokens per row; longer rows are cut (counted and reported)."
    )
    save_steps: int = Field(
        default=50, ge=1, description="Steps between checkpoints (what --resume continues from)."
    )
    seed: int = Field(default=0, description="Seed of the adapters' initialisation and the data order.")
    device: DeviceChoice = Field(
        default="auto", description="auto: CUDA when present, else the CPU; cuda: fail without a GPU."
    )
    chat_template: str | None = Field(
        default=None,
        description="A Jinja chat template file to train with (chat format), in place of the base's own "
        "or the shipped ChatML template.",
    )


class RowLeftOut(BaseModel):
    """A training row not trained on, and why."""

    row_id: str
    reason: str


class TrainingRows(BaseModel):
    """What the row check found before the first step, for one split of the export."""

    split: str
    rows: int = Field(description="Rows read from the export.")
    used: int = Field(description="Rows trained (or evaluated) on.")
    cut: int = Field(default=0, description="Rows longer than max_length, cut to it (still used).")
    tokens: int = Field(default=0, description="Tokens of the rows used, after cutting.")
    loss_tokens: int = Field(default=0, description="Of those, the tokens that carry loss (the assistant's).")
    left_out: list[RowLeftOut] = Field(default_factory=list)


class LossPoint(BaseModel):
    step: int
    loss: float
    split: Literal["train", "eval"] = "train"


class TrainingMetrics(BaseModel):
    """A training run's record (`metrics.json` in the checkpoint folder; its model card says the same)."""

    base: str = Field(description="The base model as given (local/smollm2, a folder or a GGUF file).")
    base_path: str
    architecture: str
    parameters: int
    trainable_parameters: int
    corpus_run_id: str
    corpus_manifest_sha256: str
    export: str = Field(description="The export folder trained on.")
    format: TrainFormat
    prompt_format: str = Field(description="The flows.evaluate --prompt-format to ask this model in.")
    model_string: str = Field(description="What flows.evaluate --model takes for this checkpoint.")
    split: dict[str, object] = Field(description="The export's split: fraction, seed, unit, tools per side.")
    chat_template: str = Field(description="Where the chat template trained with came from.")
    settings: TrainSettings
    train_rows: TrainingRows
    eval_rows: TrainingRows
    steps: int
    epochs_done: float
    tokens_seen: int
    train_loss: float | None
    eval_loss: float | None
    eval_loss_before: float | None = Field(
        default=None, description="The held-out rows' loss before the first step (the base's)."
    )
    losses: list[LossPoint] = Field(default_factory=list)
    wall_s: float
    tokens_per_s: float
    device: str
    dtype: str
    resumed_from_step: int | None = None
    started: datetime
    finished: datetime
    versions: dict[str, str] = Field(default_factory=dict)
