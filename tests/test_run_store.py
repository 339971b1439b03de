"""Tests for Arrow schemas from pydantic models, the run manifest, and atomic versioned run storage."""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from pydantic import BaseModel, Field

import storage.run_store as run_store
from schemas.arrow import arrow_schema, from_table, to_table
from schemas.manifest import LLMUsage, Manifest, StageStats, UsageRow
from schemas.simulation import Instruction
from storage import RunStore, RunWriter

# -- models ----------------------------------------------------------------------------------------------


class Color(enum.StrEnum):
    """A str enum: stored as its value."""

    RED = "red"
    BLUE = "blue"


class Param(BaseModel):
    """A nested record with an optional field and a list."""

    name: str
    required: bool = False
    default: str | None = None
    enum: list[str] = Field(default_factory=list)


class Function(BaseModel):
    """A nested record holding a list of nested records."""

    name: str
    method: Literal["GET", "POST"]
    parameters: list[Param]
    status: Literal[200, 404] = 200


class Item(BaseModel):
    """A top-level record using every supported kind of annotation."""

    item_id: str
    count: Annotated[int, Field(ge=0)]
    score: float
    ok: bool
    created: datetime
    color: Color
    tags: list[str]
    maybe_tags: list[str | None] | None = None
    functions: list[Function]
    primary: Function | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    by_name: dict[str, list[Param]] = Field(default_factory=dict)
    note: str | None = None


def _items() -> list[Item]:
    """Two nested records exercising nulls, empty lists, maps and nested structs."""
    get = Function(
        name="get_fact",
        method="GET",
        parameters=[Param(name="q", required=True), Param(name="lang", default="en", enum=["en", "fr"])],
    )
    return [
        Item(
            item_id="a",
            count=3,
            score=0.5,
            ok=True,
            created=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
            color=Color.RED,
            tags=["x", "y"],
            maybe_tags=["p", None],
            functions=[get, Function(name="post_it", method="POST", parameters=[], status=404)],
            primary=get,
            headers={"Accept": "application/json"},
            by_name={"get_fact": get.parameters},
            note="first",
        ),
        Item(
            item_id="b",
            count=0,
            score=-1.25,
            ok=False,
            created=datetime(2023, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
            color=Color.BLUE,
            tags=[],
            functions=[],
        ),
    ]


def _manifest(run_id: str, status: Literal["running", "completed", "failed"] = "completed") -> Manifest:
    """A manifest with a bit of everything."""
    rows = [
        UsageRow(stage="toolsmith", role="writer", model="m1", calls=3, prompt_tokens=100, cost_usd=0.25),
        UsageRow(stage="simulate", role="user", model="m2", calls=2, cache_hits=1, errors=1, cost_usd=0.5),
    ]
    return Manifest(
        run_id=run_id,
        started_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        finished_at=datetime(2024, 5, 1, 12, 5, tzinfo=UTC),
        status=status,
        code_version="abc123",
        config={"model": "m1", "limits": {"tools": 5}, "api_key": "<redacted>"},
        inputs={"seeds": "0" * 64},
        stages=[StageStats(name="toolsmith", inputs=5, outputs=4, rejected=1, seconds=1.5)],
        llm=LLMUsage.from_rows(rows),
        notes=["a note"],
    )


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    """A store in a fresh local directory."""
    return RunStore(str(tmp_path / "out"))


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A fresh `memory://` root, removed afterwards."""
    url = f"memory://toolforge-test-{uuid.uuid4().hex}"
    yield url
    fs, path = fsspec.core.url_to_fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def _publish(writer: RunWriter, items: list[Item]) -> Manifest:
    """Write `items` as `items`, a completed manifest, and publish; the manifest written."""
    writer.write_records("items", Item, items)
    manifest = writer.write_manifest(_manifest(writer.run_id))
    writer.publish()
    return manifest


def _leftovers(directory: Path) -> list[str]:
    """Temporary files left in a local directory."""
    return [name for name in os.listdir(directory) if ".tmp-" in name]


# -- schemas ---------------------------------------------------------------------------------------------


def test_schema_is_derived_from_annotations() -> None:
    param = pa.struct(
        [
            pa.field("name", pa.string(), nullable=False),
            pa.field("required", pa.bool_(), nullable=False),
            pa.field("default", pa.string(), nullable=True),
            pa.field("enum", pa.list_(pa.field("item", pa.string(), nullable=False)), nullable=False),
        ]
    )
    function = pa.struct(
        [
            pa.field("name", pa.string(), nullable=False),
            pa.field("method", pa.string(), nullable=False),
            pa.field("parameters", pa.list_(pa.field("item", param, nullable=False)), nullable=False),
            pa.field("status", pa.int64(), nullable=False),
        ]
    )
    expected = pa.schema(
        [
            pa.field("item_id", pa.string(), nullable=False),
            pa.field("count", pa.int64(), nullable=False),
            pa.field("score", pa.float64(), nullable=False),
            pa.field("ok", pa.bool_(), nullable=False),
            pa.field("created", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("color", pa.string(), nullable=False),
            pa.field("tags", pa.list_(pa.field("item", pa.string(), nullable=False)), nullable=False),
            pa.field("maybe_tags", pa.list_(pa.field("item", pa.string(), nullable=True)), nullable=True),
            pa.field("functions", pa.list_(pa.field("item", function, nullable=False)), nullable=False),
            pa.field("primary", function, nullable=True),
            pa.field("headers", pa.map_(pa.string(), pa.field("value", pa.string(), nullable=False)), False),
            pa.field(
                "by_name",
                pa.map_(pa.string(), pa.field("value", pa.list_(pa.field("item", param, False)), False)),
                nullable=False,
            ),
            pa.field("note", pa.string(), nullable=True),
        ]
    )
    schema = arrow_schema(Item)
    assert schema.names == list(Item.model_fields)
    for got, want in zip(schema, expected, strict=True):
        assert got.equals(want), f"{got} != {want}"


def test_schema_of_project_models() -> None:
    from schemas.seed import Seed
    from schemas.tool import Tool

    assert arrow_schema(Seed).field("line").nullable
    assert not arrow_schema(Seed).field("name").nullable
    assert pa.types.is_list(arrow_schema(Tool).field("functions").type)


@pytest.mark.parametrize(
    ("annotation", "value"),
    [(Any, 1), (dict[str, Any], {}), (int | str, 1), (tuple[int, int], (1, 2)), (list[int | float], [])],
)
def test_unsupported_annotations_raise_naming_model_and_field(annotation: object, value: object) -> None:
    class Payload(BaseModel):
        ok: int = 0
        extra: annotation = value  # type: ignore[valid-type]

    with pytest.raises(TypeError, match=r"Payload\.extra: .*JSON text"):
        arrow_schema(Payload)


def test_unsupported_nested_field_names_inner_field_and_path() -> None:
    class Inner(BaseModel):
        blob: dict[str, Any]

    class Outer(BaseModel):
        inners: list[Inner]

    with pytest.raises(TypeError, match=r"Inner\.blob") as raised:
        arrow_schema(Outer)
    assert "in field Outer.inners" in raised.value.__notes__


def test_to_table_rejects_records_of_another_model() -> None:
    records: list[Any] = [*_items(), Param(name="p")]
    with pytest.raises(TypeError, match=r"record 2 is a Param, not a Item"):
        to_table(Item, records)


def test_to_table_rejects_none_in_non_optional_field() -> None:
    broken = Function.model_construct(name="f", method="GET", parameters=[Param.model_construct(name=None)])
    item = _items()[0].model_copy(update={"functions": [broken]})
    with pytest.raises(ValueError, match=r"record 1: Item\.functions\[\]\.parameters\[\]\.name is None"):
        to_table(Item, [_items()[1], item])


def test_table_round_trip_in_memory() -> None:
    items = _items()
    table = to_table(Item, items)
    assert table.schema.equals(arrow_schema(Item))
    assert from_table(Item, table) == items


def test_zero_records_keep_the_schema() -> None:
    table = to_table(Item, [])
    assert table.num_rows == 0
    assert table.schema.equals(arrow_schema(Item))
    assert from_table(Item, table) == []


def test_from_table_ignores_unknown_columns_and_fills_defaults() -> None:
    table = pa.table({"name": ["p"], "unknown": [1]})
    assert from_table(Param, table) == [Param(name="p")]


# -- manifest --------------------------------------------------------------------------------------------


def test_llm_usage_sums_rows() -> None:
    usage = _manifest("r").llm
    assert (usage.calls, usage.cache_hits, usage.errors, usage.prompt_tokens) == (5, 1, 1, 100)
    assert usage.cost_usd == pytest.approx(0.75)
    assert len(usage.by_stage_role) == 2
    assert LLMUsage.from_rows([]) == LLMUsage(
        calls=0, cache_hits=0, errors=0, prompt_tokens=0, completion_tokens=0, cost_usd=0.0, by_stage_role=[]
    )


def test_manifest_json_round_trips(store: RunStore) -> None:
    writer = store.start_run()
    written = _publish(writer, _items())
    path = Path(writer.run_dir) / "manifest.json"
    text = path.read_text()
    assert text.startswith('{\n  "run_id"')
    assert Manifest.model_validate_json(text) == written
    assert store.read_manifest(writer.run_id) == written
    assert json.loads(text)["artifacts"]["items"]["path"] == "items"
    assert json.loads(text)["artifacts"]["items"]["parts"][0]["path"] == "items/part-00000.parquet"


# -- run store -------------------------------------------------------------------------------------------


def test_new_run_ids_are_timestamped_and_sortable() -> None:
    run_id = RunStore.new_run_id()
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", run_id)
    assert run_id[:16] <= f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def test_records_round_trip_through_parquet_and_pandas(store: RunStore) -> None:
    items = _items()
    writer = store.start_run()
    info = writer.write_records("items", Item, items)
    path = Path(writer.run_dir) / "items" / "part-00000.parquet"
    assert (info.path, info.rows, [p.path for p in info.parts]) == ("items", 2, ["items/part-00000.parquet"])

    frame = pd.read_parquet(Path(writer.run_dir) / "items")
    assert list(frame.columns) == list(Item.model_fields)
    assert frame["item_id"].tolist() == ["a", "b"]
    assert frame["created"].iloc[0] == pd.Timestamp("2024-05-01 12:30", tz="UTC")
    assert frame["functions"].iloc[0][0]["parameters"][1]["enum"].tolist() == ["en", "fr"]
    back = pa.Table.from_pandas(frame, schema=arrow_schema(Item), preserve_index=False)
    assert from_table(Item, back) == items

    assert from_table(Item, pq.read_table(path)) == items
    assert store.read_records(writer.run_id, "items", Item) == items
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression in {"ZSTD", "SNAPPY"}


def test_zero_records_are_written_with_their_schema(store: RunStore) -> None:
    writer = store.start_run()
    assert writer.write_records("empty", Item, []).rows == 0
    table = store.read_table(writer.run_id, "empty")
    assert table.num_rows == 0
    assert table.schema.equals(arrow_schema(Item))
    assert list(pd.read_parquet(Path(writer.run_dir) / "empty").columns) == list(Item.model_fields)


def test_manifest_sha256_matches_the_file(store: RunStore) -> None:
    writer = store.start_run()
    manifest = _publish(writer, _items())
    info = store.read_manifest(writer.run_id).artifacts["items"]
    assert info == manifest.artifacts["items"]
    (part,) = info.parts
    data = (Path(writer.run_dir) / part.path).read_bytes()
    assert part.sha256 == hashlib.sha256(data).hexdigest()
    assert part.bytes == info.bytes == len(data)
    assert part.rows == info.rows == 2


def test_latest_moves_only_on_publish(store: RunStore) -> None:
    assert store.latest_run_id() is None
    first = store.start_run("20240101T000000Z-aaaaaa")
    first.write_records("items", Item, _items())
    first.write_manifest(_manifest(first.run_id))
    assert store.latest_run_id() is None
    first.publish()
    assert store.latest_run_id() == first.run_id

    second = store.start_run("20240102T000000Z-bbbbbb")
    second.write_records("items", Item, _items()[:1])
    second.write_manifest(_manifest(second.run_id, status="running"))
    assert store.latest_run_id() == first.run_id
    second.write_manifest(_manifest(second.run_id))
    second.publish()
    assert store.latest_run_id() == second.run_id
    assert store.list_runs() == [first.run_id, second.run_id]


def test_publish_needs_a_fresh_completed_manifest_and_is_the_last_write(store: RunStore) -> None:
    writer = store.start_run()
    writer.write_records("items", Item, _items())
    with pytest.raises(RuntimeError, match="manifest"):
        writer.publish()
    writer.write_manifest(_manifest(writer.run_id, status="failed"))
    with pytest.raises(RuntimeError, match="'failed'"):
        writer.publish()
    writer.write_manifest(_manifest(writer.run_id))
    writer.write_records("more", Item, [])
    with pytest.raises(RuntimeError, match="manifest"):
        writer.publish()
    writer.write_manifest(_manifest(writer.run_id))
    writer.publish()
    with pytest.raises(RuntimeError, match="published"):
        writer.write_records("late", Item, [])
    with pytest.raises(RuntimeError, match="published"):
        writer.write_manifest(_manifest(writer.run_id))
    assert set(store.read_manifest(writer.run_id).artifacts) == {"items", "more"}
    assert store.latest_run_id() == writer.run_id


def test_start_run_refuses_existing_runs_and_unsafe_names(store: RunStore) -> None:
    writer = store.start_run()
    writer.write_records("items", Item, [])
    with pytest.raises(FileExistsError):
        store.start_run(writer.run_id)
    for bad in ["../escape", ".hidden", "a/b", ""]:
        with pytest.raises(ValueError, match="invalid"):
            writer.write_records(bad, Item, []) if bad else store.run_dir(bad)
    with pytest.raises(ValueError, match="another"):
        writer.write_manifest(_manifest("another"))


def test_local_paths_expand_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    store = RunStore("~/toolforge-out")
    writer = store.start_run()
    assert writer.run_dir == f"{tmp_path}/toolforge-out/runs/{writer.run_id}"
    _publish(writer, _items())
    assert (tmp_path / "toolforge-out" / "latest").read_text().strip() == writer.run_id


# -- atomicity -------------------------------------------------------------------------------------------


def test_failed_rename_leaves_no_file_and_no_temp(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = store.start_run()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk vanished")

    monkeypatch.setattr(run_store.os, "replace", crash)
    with pytest.raises(OSError, match="disk vanished"):
        writer.write_records("items", Item, _items())
    run_dir = Path(writer.run_dir)
    assert not (run_dir / "items" / "part-00000.parquet").exists()
    assert _leftovers(run_dir / "items") == []
    assert "items" not in writer.artifacts


def test_failed_write_midway_leaves_no_partial_file(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = store.start_run()

    def half_write(path: str, data: bytes) -> None:
        with open(path, "xb") as file:
            file.write(data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(run_store, "_write_local", half_write)
    with pytest.raises(KeyboardInterrupt):
        writer.write_records("items", Item, _items())
    assert [p for p in Path(writer.run_dir).rglob("*") if p.is_file()] == []


def test_failed_overwrite_keeps_the_old_file(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    first = store.start_run()
    _publish(first, _items())
    second = store.start_run()
    second.write_records("items", Item, [])
    second.write_manifest(_manifest(second.run_id))

    def crash(src: str, dst: str) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(run_store.os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        second.publish()
    monkeypatch.undo()
    assert store.latest_run_id() == first.run_id
    assert _leftovers(Path(store.out)) == []


def test_failed_move_on_other_filesystems(memory_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RunStore(memory_url)
    writer = store.start_run()

    def crash(self: MemoryFileSystem, src: str, dst: str, **kwargs: object) -> None:
        raise OSError("bucket unreachable")

    monkeypatch.setattr(MemoryFileSystem, "mv", crash)
    with pytest.raises(OSError, match="bucket unreachable"):
        writer.write_records("items", Item, _items())
    assert store.fs.find(store._run_path(writer.run_id)) == []


# -- other filesystems -----------------------------------------------------------------------------------


def test_memory_url_end_to_end(memory_url: str) -> None:
    store = RunStore(memory_url + "/")
    items = _items()
    writer = store.start_run()
    assert writer.run_dir == f"{memory_url}/runs/{writer.run_id}"
    manifest = _publish(writer, items)

    assert store.latest_run_id() == writer.run_id
    assert store.list_runs() == [writer.run_id]
    assert store.read_manifest(writer.run_id) == manifest
    assert from_table(Item, store.read_table(writer.run_id, "items")) == items
    frame = pd.read_parquet(f"{writer.run_dir}/items/part-00000.parquet")
    assert frame["item_id"].tolist() == ["a", "b"]
    data = store.fs.cat_file(f"{store._run_path(writer.run_id)}/items/part-00000.parquet")
    assert manifest.artifacts["items"].parts[0].sha256 == hashlib.sha256(data).hexdigest()
    names = store.fs.find(store._run_path(writer.run_id))
    run_path = store._run_path(writer.run_id)
    written = sorted(n.removeprefix(run_path + "/") for n in names)
    assert written == ["items/part-00000.parquet", "manifest.json"]


# -- streaming in parts ------------------------------------------------------------------------------------


def _many(count: int, start: int = 0) -> list[Item]:
    base = _items()[1]
    return [base.model_copy(update={"item_id": f"i{n:04d}"}) for n in range(start, start + count)]


def test_parts_are_written_every_n_records_and_read_as_one_table(store: RunStore) -> None:
    writer = store.start_run()
    parts = writer.parts("items", Item, rows=10, seconds=3600)
    for n in range(0, 25, 5):
        parts.add(_many(5, n))
    assert [p.rows for p in parts.info.parts] == [10, 10] and parts.pending == 5
    parts.add(_many(3, 100) + _many(9, 200))  # one unit: never split across parts, even past `rows`
    assert [p.rows for p in parts.info.parts] == [10, 10, 17] and parts.pending == 0
    assert writer.flush_due() == 3

    folder = Path(writer.run_dir) / "items"
    assert sorted(p.name for p in folder.iterdir()) == [f"part-0000{n}.parquet" for n in range(3)]
    frame = pd.read_parquet(folder)
    assert len(frame) == 37 and frame["item_id"].tolist()[:2] == ["i0000", "i0001"]
    assert [r.item_id for r in store.read_records(writer.run_id, "items", Item)] == frame["item_id"].tolist()
    assert store.read_column(writer.run_id, "items", "item_id") == frame["item_id"].tolist()
    manifest = writer.write_manifest(_manifest(writer.run_id, status="running"))
    assert manifest.artifacts["items"].rows == 37 and len(manifest.artifacts["items"].parts) == 3


def test_waiting_records_are_written_after_the_time_limit(store: RunStore, monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(run_store.time, "monotonic", lambda: clock[0])
    writer = store.start_run()
    parts = writer.parts("items", Item, rows=1000, seconds=5)
    parts.add(_many(2))
    clock[0] += 4.9
    assert writer.flush_due() == 0 and parts.pending == 2
    clock[0] += 0.2
    assert writer.flush_due() == 1 and parts.pending == 0
    assert store.read_column(writer.run_id, "items", "item_id") == ["i0000", "i0001"]


def test_a_resumed_run_keeps_its_parts_and_numbers_on(store: RunStore) -> None:
    first = store.start_run()
    first.parts("items", Item, rows=2).add(_many(2))
    resumed = store.resume_run(first.run_id)
    parts = resumed.parts("items", Item, rows=2)
    assert parts.info.rows == 2 and [p.path for p in parts.info.parts] == ["items/part-00000.parquet"]
    parts.add(_many(2, 2))
    assert [p.path for p in parts.info.parts][-1] == "items/part-00001.parquet"
    assert store.read_column(first.run_id, "items", "item_id") == ["i0000", "i0001", "i0002", "i0003"]
    with pytest.raises(FileNotFoundError):
        store.resume_run("20240101T000000Z-000000")


def test_publish_waits_for_every_part_and_a_fresh_manifest(store: RunStore) -> None:
    writer = store.start_run()
    parts = writer.parts("items", Item, rows=100)
    parts.add(_many(3))
    writer.write_manifest(_manifest(writer.run_id))
    with pytest.raises(RuntimeError, match="write every part"):
        writer.publish()
    writer.close_parts()
    with pytest.raises(RuntimeError, match="write every part"):
        writer.publish()
    writer.write_manifest(_manifest(writer.run_id))
    writer.publish()
    assert store.latest_run_id() == writer.run_id


def test_an_artifact_without_parts_reads_as_empty_with_a_model(store: RunStore) -> None:
    writer = store.start_run()
    assert store.read_records(writer.run_id, "items", Item) == []
    with pytest.raises(FileNotFoundError, match="no artifact 'items'"):
        store.read_table(writer.run_id, "items")


def test_hugging_face_datasets_reads_an_artifact_of_several_parts(
    store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The factory's own records (no map columns, which `datasets` has no type for) load part by part."""
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    writer = store.start_run()
    parts = writer.parts("instructions", Instruction, rows=4)
    for n in range(0, 10, 2):
        ask = {"tool_id": "t", "text": "Cafés in Lisbon?", "style": "question", "functions": ["f"]}
        parts.add([Instruction(instruction_id=f"t-{k}", **ask) for k in (n, n + 1)])
    parts.flush()
    assert len(parts.info.parts) == 3
    files = f"{writer.run_dir}/instructions/*.parquet"
    loaded = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "hf"))["train"]
    assert sorted(loaded["instruction_id"]) == sorted(f"t-{n}" for n in range(10))
    assert loaded[0]["functions"] == ["f"]


def test_a_part_written_before_fields_were_added_reads_with_their_defaults(store: RunStore) -> None:
    from bench import responders
    from schemas.tool import FunctionDoc, Tool

    functions = responders.function_catalog({"messages": [{"content": "Name: Atlas"}]})["functions"]
    tool = Tool(
        tool_id="atlas", name="Atlas", category="Geo", description="Places", link="", auth="",
        introduction="Atlas.", functions=[FunctionDoc.model_validate(f) for f in functions], openapi="{}",
        nl_documentation="", routes=[], model="m",
    )  # fmt: skip
    row = tool.model_dump()
    for key in ("origin", "taxonomy_path", "operators"):  # columns added since
        del row[key]
    for function in row["functions"]:  # nested fields added since
        for param in function["parameters"]:
            for key in ("minimum", "maximum", "format", "properties"):
                del param[key]
        for field in function["response_fields"]:
            del field["fields"]
    writer = store.start_run()
    folder = Path(store.run_dir(writer.run_id)) / "tools"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row]), folder / "part-00000.parquet")
    assert store.read_records(writer.run_id, "tools", Tool) == [tool]
    assert list(store.iter_records(writer.run_id, "tools", Tool)) == [tool]


def test_parts_written_before_the_shared_rejection_vocabulary_read_into_it(store: RunStore) -> None:
    """A rejected tool named its `stage` (now its step and rule); the failure rules were `llm` and
    `task` (now `llm_error` and `task_failed`) in `rejected_tools`, `rejected_apis` and `rejections`;
    a rejected API had no step, a rejection no `duplicate_of`, a rejected dialogue no step."""
    from schemas.dialog import Dialog, Message
    from schemas.pool import RejectedAPI
    from schemas.rejection import Rejection
    from schemas.tool import RejectedTool

    writer = store.start_run()

    def old_part(name: str, rows: list[dict[str, Any]]) -> None:
        folder = Path(store.run_dir(writer.run_id)) / name
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")

    seed = {"name": "Cat Facts", "category": "Animals", "reason": "why"}
    stages = {"a": "openapi", "b": "llm", "c": "task", "d": "dedup"}
    old_part("rejected_tools", [{"tool_id": i, **seed, "stage": s} for i, s in stages.items()])
    old_part("rejections", [{"item_id": "b", "step": "toolset", "rule": "llm", "reason": "why"}])
    api = {"api_id": "pool-000001", "index": 1, "generation": 0, "name": "", "domain": "Geo"}
    old_part("rejected_apis", [{**api, "rule": "task", "reason": "why", "duplicate_of": None}])
    dialog = Dialog(
        dialog_id="t-1", tool_id="t", instruction="Hi", messages=[Message(role="user", content="Hi")],
        tools="[]", tool_ids=["t"], final_answer="", functions_used=[], turns=1, calls=0,
        calls_per_turn=0, distinct_functions=0, llm_calls=0, prompt_tokens=0, completion_tokens=0,
        ending="not_simulated", status="rejected", rejection_rule="llm_error", rejection_reason="why",
    )  # fmt: skip
    old_part("rejected_dialogs", [{k: v for k, v in dialog.model_dump().items() if k != "rejection_step"}])

    tools = store.read_records(writer.run_id, "rejected_tools", RejectedTool)
    assert [(t.tool_id, t.step, t.rule) for t in tools] == [
        ("a", "toolset", "openapi"),
        ("b", "toolset", "llm_error"),
        ("c", "toolset", "task_failed"),
        ("d", "dedup", "duplicate_tool"),
    ]
    assert tools[1].rejection == Rejection(item_id="b", step="toolset", rule="llm_error", reason="why")
    assert store.read_records(writer.run_id, "rejections", Rejection) == [tools[1].rejection]
    (rejected_api,) = store.read_records(writer.run_id, "rejected_apis", RejectedAPI)
    assert (rejected_api.step, rejected_api.rule) == ("pool", "task_failed")
    (old_dialog,) = store.read_records(writer.run_id, "rejected_dialogs", Dialog)
    assert old_dialog.rejection == Rejection(item_id="t-1", step="simulation", rule="llm_error", reason="why")
