"""What a checkpoint folder says of itself: the model card (`README.md`, Hugging Face's front matter
then the run's figures) and the loss curve (`loss.svg`), both from its `TrainingMetrics`."""

from __future__ import annotations

import io
from pathlib import Path

import yaml

from schemas.training import TrainingMetrics, TrainingRows

LOSS_CHART = "loss.svg"


def loss_chart(metrics: TrainingMetrics, path: Path) -> None:
    """The training loss per step, and the held-out loss before and after, as an SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.5))
    points = [p for p in metrics.losses if p.split == "train"]
    axes.plot([p.step for p in points], [p.loss for p in points], label="train loss", linewidth=1.2)
    if metrics.eval_loss_before is not None and metrics.eval_loss is not None:
        axes.plot(
            [0, metrics.steps],
            [metrics.eval_loss_before, metrics.eval_loss],
            "o--",
            label="held-out loss (before, after)",
        )
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("loss (assistant tokens)")
    axes.set_title(f"{metrics.base} on {metrics.corpus_run_id} ({metrics.format})")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _rows_line(rows: TrainingRows) -> str:
    line = (
        f"{rows.used} of {rows.rows} rows, {rows.tokens:,} tokens ({rows.loss_tokens:,} with loss); "
        f"{rows.cut} cut to max_length; {len(rows.left_out)} left out"
    )
    reasons = sorted({r.reason for r in rows.left_out})[:3]
    return line + (f" ({'; '.join(reasons)})" if reasons else "")


def _split_line(split: dict[str, object]) -> str:
    return (
        f"by {split.get('unit')}, {split.get('eval_fraction')} held out (seed {split.get('seed')}): "
        f"{split.get('train_tools')} train tools, {split.get('eval_tools')} held-out tools"
    )


def _loss(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def model_card(metrics: TrainingMetrics) -> str:
    """The card's text."""
    front = {
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "tags": [
            "toolforge",
            "tool-use",
            "function-calling",
            "trl",
            "sft",
            *([] if metrics.settings.full else ["lora"]),
        ],
    }
    s = metrics.settings
    adapter = (
        "full fine-tune"
        if s.full
        else f"LoRA r={s.lora_r}, alpha={s.lora_alpha}, targets {s.lora_targets}, merged"
    )
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False).strip(),
        "---",
        "",
        f"# {metrics.base} fine-tuned on ToolForge run {metrics.corpus_run_id}",
        "",
        f"A {metrics.architecture} model of {metrics.parameters:,} parameters, trained with TRL's SFTTrainer "
        "on the "
        f"**{metrics.format}** rows of a ToolForge corpus ({adapter}). Loss fell on the assistant's tokens "
        "only: its text and its tool calls, never the user's, the tools' results or the tools preamble.",
        "",
        "## Use",
        "",
        "```bash",
        f"python -m flows.evaluate --model {metrics.model_string} --prompt-format {metrics.prompt_format} "
        "--eval RUN",
        "```",
        "",
        "or `AutoModelForCausalLM.from_pretrained(folder)` (tokenizer and chat template included).",
        "",
        "## Training",
        "",
        "| | |",
        "|---|---|",
        f"| base | `{metrics.base}` (`{metrics.base_path}`) |",
        f"| corpus | run `{metrics.corpus_run_id}`, manifest sha256 `{metrics.corpus_manifest_sha256}` |",
        f"| export | `{metrics.export}` |",
        f"| split | {_split_line(metrics.split)}; trained on the train split only |",
        f"| format | {metrics.format} (evaluate with `--prompt-format {metrics.prompt_format}`) |",
        f"| chat template | {metrics.chat_template} |",
        f"| train rows | {_rows_line(metrics.train_rows)} |",
        f"| held-out rows | {_rows_line(metrics.eval_rows)} |",
        f"| steps | {metrics.steps} ({metrics.epochs_done:.2f} epochs)"
        + (f", resumed from step {metrics.resumed_from_step}" if metrics.resumed_from_step else "")
        + " |",
        f"| tokens seen | {metrics.tokens_seen:,} ({metrics.tokens_per_s:.0f} tokens/s) |",
        f"| train loss (mean) | {_loss(metrics.train_loss)} |",
        f"| held-out loss | {_loss(metrics.eval_loss_before)} before, {_loss(metrics.eval_loss)} after |",
        f"| trainable parameters | {metrics.trainable_parameters:,} |",
        f"| hyperparameters | lr {s.learning_rate}, batch {s.batch_size} x {s.grad_accum}, max_length "
        f"{s.max_length}, epochs {s.epochs}, max_steps {s.max_steps}, seed {s.seed} |",
        f"| device | {metrics.device} ({metrics.dtype}) |",
        f"| wall time | {metrics.wall_s:.0f} s |",
        f"| versions | {', '.join(f'{k} {v}' for k, v in metrics.versions.items())} |",
        "",
        f"![loss]({LOSS_CHART})",
        "",
    ]
    return "\n".join(lines)
