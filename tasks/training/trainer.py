"""One fine-tune with TRL's `SFTTrainer`: LoRA through peft (or every weight), on rows already encoded
and checked (`rows.py`: labels are -100 wherever the assistant did not write), with checkpoints every
`save_steps` that `resume` continues from, and the loss before and after on the held-out rows.

The rows arrive tokenized, so TRL neither tokenizes them again nor drops any: what `rows.prepare`
reported is exactly what is trained on. LoRA adapters are merged into the base on save, so the result
loads with `AutoModelForCausalLM.from_pretrained` and no peft.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.training import LossPoint, TrainSettings
from tasks.training.base_model import Device

CHECKPOINTS = "checkpoints"


@dataclass
class Progress:
    """What a training run reports as it goes: a line per logged step (step, loss, tokens/s, ETA)."""

    say: Callable[[str], None]
    started: float = field(default_factory=time.monotonic)
    first_step: int = 0
    first_tokens: int = 0


def _callback(progress: Progress) -> Any:
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        """Records each logged loss and says the step, the loss, tokens/s and the time left."""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            progress.started = time.monotonic()
            progress.first_step = state.global_step
            progress.first_tokens = int(state.num_input_tokens_seen or 0)
            if state.global_step:
                progress.say(f"resumed at step {state.global_step}/{state.max_steps}")

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            logs = logs or {}
            if "loss" not in logs:
                return
            elapsed = max(time.monotonic() - progress.started, 1e-9)
            done = state.global_step - progress.first_step
            tokens = int(state.num_input_tokens_seen or 0) - progress.first_tokens
            left = (state.max_steps - state.global_step) * elapsed / done if done else float("nan")
            eta = "?" if math.isnan(left) else f"{int(left // 60)}m{int(left % 60):02d}s"
            progress.say(
                f"step {state.global_step}/{state.max_steps} · loss {logs['loss']:.4f} · "
                f"{tokens / elapsed:.0f} tokens/s · ETA {eta}"
            )

    return ProgressCallback()


def lora_config(settings: TrainSettings) -> Any:
    from peft import LoraConfig

    targets = settings.lora_targets
    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules="all-linear" if targets == ["all-linear"] else targets,
        task_type="CAUSAL_LM",
    )


def sft_config(settings: TrainSettings, work: Path, device: Device) -> Any:
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(work / CHECKPOINTS),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps or -1,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        logging_steps=1,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=2,
        seed=settings.seed,
        data_seed=settings.seed,
        bf16=device.bf16,
        use_cpu=device.kind == "cpu",
        report_to=[],
        disable_tqdm=True,
        eval_strategy="no",
        gradient_checkpointing=False,  # TRL's default; it trades time for memory a small model does not need
        max_length=settings.max_length,
        include_num_input_tokens_seen="non_padding",
        dataloader_pin_memory=device.kind == "cuda",
        remove_unused_columns=False,
    )


@dataclass
class Outcome:
    """What a finished fine-tune measured."""

    steps: int
    epochs_done: float
    tokens_seen: int
    train_loss: float | None
    eval_loss: float | None
    eval_loss_before: float | None
    trainable_parameters: int
    resumed_from_step: int | None
    train_wall_s: float
    losses: list[LossPoint]


@contextlib.contextmanager
def library_notes_off() -> Iterator[None]:
    """Warnings of the libraries that nobody here can act on, off while training."""
    with warnings.catch_warnings():
        # peft saving an adapter of a base it loaded from a GGUF file (no config.json beside it)
        warnings.filterwarnings("ignore", message="Could not find a config file", module="peft")
        # TRL 1.16 still sets transformers' `gradient_checkpointing`, which transformers 5 renamed
        renamed = r"`(is_)?gradient_checkpointing` is deprecated"
        warnings.filterwarnings("ignore", message=renamed, category=FutureWarning)
        yield


def fine_tune(
    model: Any,
    tokenizer: Any,
    train: dict[str, list[list[int]]],
    held_out: dict[str, list[list[int]]],
    settings: TrainSettings,
    device: Device,
    work: Path,
    progress: Progress,
    eval_loss_before: float | None,
    resume: bool,
    save_to: Path,
    callbacks: list[Any] | None = None,
) -> Outcome:
    """Train `model` on the encoded `train` rows, checkpoints under `work`, and save the result
    (merged, with `tokenizer`) in `save_to`. `eval_loss_before`, when None, is measured first. Call
    it within `library_notes_off()`."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTTrainer

    train_set = Dataset.from_dict(train)
    eval_set = Dataset.from_dict(held_out) if held_out["input_ids"] else None
    args = sft_config(settings, work, device)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        processing_class=tokenizer,
        peft_config=None if settings.full else lora_config(settings),
        callbacks=[_callback(progress), *(callbacks or [])],
    )
    trainer.remove_callback(PrinterCallback)  # its dict per log: the progress lines say it
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    last = _last_checkpoint(work) if resume else None
    if eval_set is not None and eval_loss_before is None and last is None:
        eval_loss_before = float(trainer.evaluate()["eval_loss"])
        progress.say(f"held-out loss before training: {eval_loss_before:.4f}")
    started = time.monotonic()
    result = trainer.train(resume_from_checkpoint=str(last) if last else None)
    train_wall_s = time.monotonic() - started
    eval_loss = float(trainer.evaluate()["eval_loss"]) if eval_set is not None else None
    state = trainer.state
    trained = trainer.model.merge_and_unload() if not settings.full else trainer.model
    trained.save_pretrained(save_to)
    tokenizer.save_pretrained(save_to)
    return Outcome(
        steps=state.global_step,
        epochs_done=float(state.epoch or 0.0),
        tokens_seen=int(state.num_input_tokens_seen or 0),
        train_loss=float(result.training_loss) if result.training_loss is not None else None,
        eval_loss=eval_loss,
        eval_loss_before=eval_loss_before,
        trainable_parameters=trainable,
        resumed_from_step=int(last.name.split("-")[-1]) if last else None,
        train_wall_s=train_wall_s,
        losses=[
            LossPoint(step=int(entry["step"]), loss=float(entry["loss"]))
            for entry in state.log_history
            if "loss" in entry
        ],
    )


def _last_checkpoint(work: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = work / CHECKPOINTS
    found = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    return Path(found) if found else None
