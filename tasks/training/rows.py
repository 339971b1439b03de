"""An export's rows as token ids and labels, checked before the first step.

`chat`: a row of the `hf` export (`messages` + `tools`) rendered by the training chat template, with
the assistant mask its `{% generation %}` marks give. `react`: a line of the `react` export, its
`prompt` then its `completion` and the end-of-sequence token, tokenized as TRL tokenizes a
prompt-completion row (the completion starts where the two tokenizations part). Only masked tokens
(the assistant's text and calls; never the user's, the tools' or the tools preamble) carry loss:
every other label is -100.

Every row is accounted for: one longer than `max_length` is cut to it and counted; one with no
assistant token (before or after the cut) is left out with its reason. Nothing is dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from schemas.errors import InputError
from schemas.training import RowLeftOut, TrainFormat, TrainingRows

IGNORE = -100
"""The label of a token that carries no loss (PyTorch's cross-entropy ignore index)."""


class Encoded(NamedTuple):
    row_id: str
    input_ids: list[int]
    mask: list[int]


def export_rows(folder: Path, fmt: TrainFormat, split: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(row id, row) of one split of an export folder: the hf shards or the react JSON Lines."""
    if fmt == "react":
        path = folder / f"{split}.jsonl"
        if not path.is_file():
            return
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise InputError(f"{path}:{number}: not JSON ({exc})") from None
                yield f"{row.get('id')}#{row.get('turn', 0)}", row
        return
    import pyarrow.parquet as pq

    for shard in sorted((folder / "data").glob(f"{split}-*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            yield str(row["id"]), row


def chat_row(row: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(messages, tools) of an hf row as `apply_chat_template` takes them: JSON values as objects and
    the null fields of the row's struct columns left out."""
    messages = []
    for message in row["messages"]:
        clean = {key: value for key, value in message.items() if value is not None}
        if "tool_calls" in clean:
            clean["tool_calls"] = [
                {**call, "function": {**call["function"], "arguments": _value(call["function"]["arguments"])}}
                for call in clean["tool_calls"]
            ]
        messages.append(clean)
    return messages, [_value(tool) for tool in row.get("tools") or []]


def _value(value: Any) -> Any:
    """A JSON column's value as an object (pyarrow gives Arrow JSON as its text)."""
    return json.loads(value) if isinstance(value, str) else value


def encode(
    tokenizer: Any, fmt: TrainFormat, row_id: str, row: dict[str, Any], template: str | None
) -> Encoded:
    """The row's token ids and assistant mask (1 where the token carries loss)."""
    if fmt == "chat":
        messages, tools = chat_row(row)
        out = tokenizer.apply_chat_template(
            messages,
            tools=tools or None,
            chat_template=template,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        return Encoded(row_id, list(out["input_ids"]), list(out["assistant_masks"]))
    prompt = tokenizer(row["prompt"])["input_ids"]
    eos = tokenizer.eos_token or ""
    completion = row["completion"] if row["completion"].endswith(eos) else row["completion"] + eos
    whole = tokenizer(row["prompt"] + completion)["input_ids"]
    start = 0
    while start < min(len(prompt), len(whole)) and prompt[start] == whole[start]:
        start += 1
    return Encoded(row_id, list(whole), [0] * start + [1] * (len(whole) - start))


class Prepared(NamedTuple):
    """A split's rows ready for the trainer (`input_ids`, `labels`), and what the check found."""

    columns: dict[str, list[list[int]]]
    report: TrainingRows


def prepare(
    tokenizer: Any,
    fmt: TrainFormat,
    rows: Iterator[tuple[str, dict[str, Any]]],
    split: str,
    max_length: int,
    template: str | None,
    until_used: int | None = None,
) -> Prepared:
    """Encode, check and cut every row of one split (see the module's note); with `until_used`, stop
    once that many rows are usable (a quick check that there is something to train on)."""
    input_ids: list[list[int]] = []
    labels: list[list[int]] = []
    report = TrainingRows(split=split, rows=0, used=0)
    for row_id, row in rows:
        if until_used is not None and report.used >= until_used:
            break
        report.rows += 1
        try:
            encoded = encode(tokenizer, fmt, row_id, row, template)
        except (KeyError, TypeError, ValueError) as exc:
            report.left_out.append(RowLeftOut(row_id=row_id, reason=f"cannot be rendered: {exc}"[:300]))
            continue
        if not any(encoded.mask):
            report.left_out.append(RowLeftOut(row_id=row_id, reason="no assistant token to learn from"))
            continue
        ids, mask = encoded.input_ids, encoded.mask
        if len(ids) > max_length:
            if not any(mask[:max_length]):
                report.left_out.append(
                    RowLeftOut(
                        row_id=row_id,
                        reason=f"{len(ids)} tokens, and none of the assistant's within --max-length "
                        f"{max_length}",
                    )
                )
                continue
            report.cut += 1
            ids, mask = ids[:max_length], mask[:max_length]
        input_ids.append(ids)
        labels.append([token if keep else IGNORE for token, keep in zip(ids, mask, strict=True)])
        report.used += 1
        report.tokens += len(ids)
        report.loss_tokens += sum(mask)
    return Prepared({"input_ids": input_ids, "labels": labels}, report)
