"""A Hugging Face dataset folder in TRL's conversational shape with tools
(https://huggingface.co/docs/trl/dataset_formats#tool-calling): Parquet shards
`data/<split>-<nnnnn>-of-<NNNNN>.parquet`, a new shard every `SHARD_ROWS` rows.

A row is `{"id", "dialog_type", "messages", "tools"}`: the messages of the OpenAI export
(`tasks/exports/openai.py`: the same system message and tool results, no thoughts), but each call's
`arguments` a JSON object and `tools` the OpenAI tools as objects, which is what
`tokenizer.apply_chat_template(messages, tools=tools)` takes. Arguments and tools differ in shape from
one function to the next, which one Arrow struct column cannot hold, so they are Arrow's JSON
extension type (`pa.json_()`), which `datasets` (as of 5.2) reads back as its `Json` feature:
`load_dataset(folder)` gives them as dicts, with no loading script and no card needed. A struct column
holds every field in every message: a field a message does not use is null.

`write` writes the shards only; the card (`tasks/card.py`) may describe them in its front matter with
`hf_configs` (the splits written) and `hf_features` (the columns). A split with no dialogue gets no
shard: an empty Parquet file, or a split with no file, makes `load_dataset` fail.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.dialog import Dialog
from schemas.export import SPLITS, ExportFile, SplitName
from tasks.exports.files import atomic_file, file_info
from tasks.exports.openai import system_prompt, tool_result
from tasks.exports.source import ExportSource, offered_tools

NOTES = [
    "The assistant's thoughts are left out (the react format keeps them); `arguments` and `tools` are "
    "JSON values (Arrow JSON, the `datasets` Json feature).",
    "A split with no dialogue has no shard.",
]
"""What the export's summary says of the format."""
SHARD_ROWS = 10_000
"""Rows per Parquet shard."""
ROW_GROUP_ROWS = 1_000
"""Rows per Parquet row group: what a writer holds in memory at once."""
DATA = "data"


def _schema(json_type: pa.DataType) -> pa.Schema:
    function = pa.struct([("name", pa.string()), ("arguments", json_type)])
    call = pa.struct([("id", pa.string()), ("type", pa.string()), ("function", function)])
    message = pa.struct(
        [
            ("role", pa.string()),
            ("content", pa.string()),
            ("tool_calls", pa.list_(call)),
            ("tool_call_id", pa.string()),
            ("name", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("id", pa.string()),
            ("dialog_type", pa.string()),
            ("messages", pa.list_(message)),
            ("tools", pa.list_(json_type)),
        ]
    )


SCHEMA = _schema(pa.json_())
"""The shards' schema: JSON values as Arrow's JSON extension type."""
_TEXT_SCHEMA = _schema(pa.string())
"""The same with JSON values as text: what a table is built as, then cast to `SCHEMA`."""


def hf_row(dialog: Dialog, system: str = "") -> dict[str, Any]:
    """The dialogue as a row, its arguments and tools as JSON values (dicts)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in dialog.messages:
        row: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.role == "assistant" and message.tool_calls:
            row["content"] = None
            row["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.parsed_arguments()},
                }
                for call in message.tool_calls
            ]
        elif message.role == "tool":
            row.update(content=tool_result(message), tool_call_id=message.tool_call_id, name=message.name)
        messages.append(row)
    return {
        "id": dialog.dialog_id,
        "dialog_type": dialog.dialog_type,
        "messages": messages,
        "tools": offered_tools(dialog),
    }


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its JSON values as text, every message with every field."""
    messages = []
    for message in row["messages"]:
        calls = [
            {**call, "function": {**call["function"], "arguments": _text(call["function"]["arguments"])}}
            for call in message.get("tool_calls") or []
        ]
        messages.append(
            {
                "role": message["role"],
                "content": message.get("content"),
                "tool_calls": calls or None,
                "tool_call_id": message.get("tool_call_id"),
                "name": message.get("name"),
            }
        )
    return {**row, "messages": messages, "tools": [_text(tool) for tool in row["tools"]]}


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def hf_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Rows of `hf_row` as an Arrow table of `SCHEMA`."""
    return pa.Table.from_pylist([_stored(row) for row in rows], schema=_TEXT_SCHEMA).cast(SCHEMA)


def read_calls(row: dict[str, Any]) -> list[tuple[str, Any]]:
    """The function calls of a row (as `datasets` loads it, or `hf_row` makes it), in order."""
    return [
        (call["function"]["name"], call["function"]["arguments"])
        for message in row["messages"]
        if message["role"] == "assistant"
        for call in message.get("tool_calls") or []
    ]


def _feature(data_type: pa.DataType) -> tuple[str, Any]:
    """A column type as `datasets` writes it in a card's `features`: (key, value)."""
    if isinstance(data_type, pa.JsonType):
        return "dtype", "json"
    if pa.types.is_string(data_type):
        return "dtype", "string"
    if pa.types.is_list(data_type):
        key, value = _feature(data_type.value_type)
        return "list", value if key in ("dtype", "struct") else {key: value}
    if pa.types.is_struct(data_type):
        return "struct", [_named(data_type.field(i)) for i in range(data_type.num_fields)]
    raise ValueError(f"no feature for {data_type}")


def _named(field: pa.Field) -> dict[str, Any]:
    key, value = _feature(field.type)
    return {"name": field.name, key: value}


def hf_features() -> list[dict[str, Any]]:
    """The columns as the card's `dataset_info.features` (the YAML `datasets` writes for them)."""
    return [_named(field) for field in SCHEMA]


def hf_configs(files: Iterable[ExportFile]) -> list[dict[str, Any]]:
    """The card's `configs`: one `default` config whose splits are those `files` hold."""
    written = {file.split for file in files}
    data_files = [{"split": split, "path": f"{DATA}/{split}-*"} for split in SPLITS if split in written]
    return [{"config_name": "default", "data_files": data_files}]


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == ROW_GROUP_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def write_split(folder: Path, split: SplitName, rows: Iterable[dict[str, Any]]) -> list[ExportFile]:
    """`rows` (of `hf_row`) as the shards of `split` under `folder/data`, replacing any earlier shards
    of that split; none when there is no row. Shards are written under hidden names, then named
    `<split>-<n>-of-<count>.parquet` once their count is known."""
    data = folder / DATA
    parts: list[tuple[Path, int]] = []
    iterator = iter(rows)
    try:
        while (first := next(iterator, None)) is not None:
            path, count = data / f".{split}-{len(parts):05d}.partial", 0
            with atomic_file(path) as handle, pq.ParquetWriter(handle, SCHEMA, compression="zstd") as writer:
                for batch in _batches(chain([first], islice(iterator, SHARD_ROWS - 1))):
                    writer.write_table(hf_table(batch), row_group_size=ROW_GROUP_ROWS)
                    count += len(batch)
            parts.append((path, count))
        for old in data.glob(f"{split}-*-of-*.parquet"):
            old.unlink()
        files = []
        for number, (path, count) in enumerate(parts):
            final = data / f"{split}-{number:05d}-of-{len(parts):05d}.parquet"
            os.replace(path, final)
            files.append(file_info(folder, final, count, split))
        return files
    finally:
        for path, _ in parts:
            path.unlink(missing_ok=True)


def write(source: ExportSource, folder: Path) -> list[ExportFile]:
    """The shards of both splits under `folder/data` (no card: `tasks/card.py` writes `README.md`)."""

    def rows(split: SplitName) -> Iterator[dict[str, Any]]:
        for dialog in source.dialogs(split):
            yield hf_row(dialog, system_prompt(source, dialog))

    return [file for split in SPLITS for file in write_split(folder, split, rows(split))]
