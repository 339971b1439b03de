"""Arrow schemas derived from pydantic models, and conversions between records and Arrow tables.

The schema of every Parquet artifact comes from the model's fields and annotations, never from
sample data, so an artifact with zero rows has the same columns and types as a full one.

Supported annotations:

    str, Literal["a", ...], str-valued Enum    -> string
    int, Literal[1, ...]                       -> int64
    float                                      -> float64
    bool, Literal[True, ...]                   -> bool
    datetime                                   -> timestamp("us", tz="UTC")  (naive values are taken as UTC)
    list[X]                                    -> list<X>
    dict[K, V]  (K: str or int)                -> map<K, V>
    a BaseModel subclass                       -> struct of its fields, recursively
    X | None                                   -> X, nullable (every other field is non-nullable)

Anything else (`Any`, `dict[str, Any]`, unions of different types, tuples, ...) raises a TypeError
that names the model and field: store such values as JSON text in a `str` field instead.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

import pyarrow as pa
from pydantic import AliasChoices, BaseModel

M = TypeVar("M", bound=BaseModel)

TIMESTAMP = pa.timestamp("us", tz="UTC")
_SCALARS: dict[object, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    datetime: TIMESTAMP,
}
_MAP_KEYS = (pa.string(), pa.int64())


class _Unsupported(Exception):
    """Raised inside the type mapping; turned into a TypeError naming the model and field."""


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of `model`'s records: one column per field, nullable only for `X | None`."""
    return pa.schema(_model_fields(model, seen=()))


def to_table(model: type[M], records: Sequence[M]) -> pa.Table:
    """An Arrow table of `records` (instances of `model`) with the schema `arrow_schema(model)`.

    Raises TypeError naming the index of the first record that is not an instance of `model`, and
    ValueError naming the record and field when a non-nullable field holds None (e.g. a record made
    with `model_construct`).
    """
    schema = arrow_schema(model)
    rows: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if not isinstance(record, model):
            raise TypeError(
                f"record {index} is a {type(record).__name__}, not a {model.__name__}: "
                f"to_table({model.__name__}, ...) takes only {model.__name__} records"
            )
        rows.append(record.model_dump(mode="python"))
    table = pa.Table.from_pylist(rows, schema=schema)
    if _null_violation(table, schema) is not None:
        index, path = _first_bad_row(rows, schema)
        raise ValueError(f"record {index}: {model.__name__}.{path} is None but the field is not optional")
    return table


def from_table(model: type[M], table: pa.Table) -> list[M]:
    """The records of `table` validated as `model` instances; the inverse of `to_table`.

    Columns the model lacks are ignored, and fields missing from the table take their defaults,
    so older artifacts still load after a field with a default is added; a column a field was
    called before is read when the field's `validation_alias` names it (`AliasChoices("new", "old")`).
    """
    names = set(_dumped_field_names(model)) | _alias_names(model)
    table = table.select([name for name in table.column_names if name in names])
    fields = list(table.schema)
    records: list[M] = []
    for index, row in enumerate(table.to_pylist()):
        values = {f.name: _from_arrow(row[f.name], f.type) for f in fields}
        try:
            records.append(model.model_validate(values))
        except Exception as error:
            error.add_note(f"while reading row {index} of the table as {model.__name__}")
            raise
    return records


# -- annotations to Arrow types ---------------------------------------------------------------------------


def _dumped_field_names(model: type[BaseModel]) -> list[str]:
    """The names of the fields `model_dump` writes, in declaration order."""
    if not model.__pydantic_complete__:
        model.model_rebuild()
    return [name for name, info in model.model_fields.items() if not info.exclude]


def _alias_names(model: type[BaseModel]) -> set[str]:
    """The column names the fields of `model` are also read from (their validation aliases)."""
    names: set[str] = set()
    for info in model.model_fields.values():
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        names.update(choice for choice in choices if isinstance(choice, str))
    return names


def _model_fields(model: type[BaseModel], seen: tuple[type[BaseModel], ...]) -> list[pa.Field]:
    """One Arrow field per dumped field of `model`; `seen` holds the models being expanded (for cycles)."""
    if model in seen:
        chain = " -> ".join(m.__name__ for m in (*seen, model))
        raise TypeError(f"{chain}: recursive models cannot be stored as Parquet structs; store as JSON text")
    fields = []
    for name in _dumped_field_names(model):
        annotation = model.model_fields[name].annotation
        try:
            arrow_type, nullable = _arrow_type(annotation, (*seen, model))
        except _Unsupported as problem:
            raise TypeError(
                f"{model.__name__}.{name}: cannot store {_describe(annotation)} in Parquet "
                f"({problem}); store it as JSON text instead (a `str` field holding json.dumps(...))"
            ) from None
        except TypeError as error:
            error.add_note(f"in field {model.__name__}.{name}")
            raise
        fields.append(pa.field(name, arrow_type, nullable=nullable))
    return fields


def _arrow_type(annotation: object, seen: tuple[type[BaseModel], ...]) -> tuple[pa.DataType, bool]:
    """The Arrow type of a field annotation, and whether it is nullable."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _arrow_type(args[0], seen)
    if origin in (typing.Union, types.UnionType):
        return _union_type(args, seen)
    if origin is Literal:
        return _literal_type(args)
    if origin is list:
        item_type, item_nullable = _arrow_type(_only_arg(annotation, args), seen)
        return pa.list_(pa.field("item", item_type, nullable=item_nullable)), False
    if origin is dict:
        return _map_type(args, seen), False
    if origin is not None:
        raise _Unsupported(f"{_describe(origin)} is not supported")
    if annotation in _SCALARS:
        return _SCALARS[annotation], False
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if issubclass(annotation, str):
            return pa.string(), False
        raise _Unsupported(f"enum {annotation.__name__} is not a str enum")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        children = _model_fields(annotation, seen)
        if not children:
            raise _Unsupported(f"model {annotation.__name__} has no fields")
        return pa.struct(children), False
    raise _Unsupported(f"{_describe(annotation)} has no Arrow equivalent")


def _union_type(args: tuple[object, ...], seen: tuple[type[BaseModel], ...]) -> tuple[pa.DataType, bool]:
    """`X | None` (and unions like `Literal["a"] | Literal["b"]` whose members share one scalar type)."""
    members = [arg for arg in args if arg is not type(None)]
    nullable = len(members) < len(args)
    if any(isinstance(m, type) and issubclass(m, BaseModel) for m in members) and len(members) > 1:
        raise _Unsupported("a union of models is not supported")
    mapped = [_arrow_type(member, seen) for member in members]
    kinds = {arrow_type for arrow_type, _ in mapped}
    if len(kinds) != 1:
        raise _Unsupported("a union of different types is not supported")
    return kinds.pop(), nullable or any(member_nullable for _, member_nullable in mapped)


def _literal_type(values: tuple[object, ...]) -> tuple[pa.DataType, bool]:
    """string for str literals, int64 for int literals, bool for bool literals (None makes it nullable)."""
    present = [v for v in values if v is not None]
    nullable = len(present) < len(values)
    if present and all(isinstance(v, bool) for v in present):
        return pa.bool_(), nullable
    if present and all(isinstance(v, str) for v in present):
        return pa.string(), nullable
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64(), nullable
    raise _Unsupported("only Literals whose values are all str, all int or all bool are supported")


def _map_type(args: tuple[object, ...], seen: tuple[type[BaseModel], ...]) -> pa.DataType:
    """map<K, V> for `dict[K, V]` with str or int keys."""
    if len(args) != 2:
        raise _Unsupported("a dict needs its key and value types, e.g. dict[str, str]")
    key_type, key_nullable = _arrow_type(args[0], seen)
    if key_nullable or key_type not in _MAP_KEYS:
        raise _Unsupported("dict keys must be str or int")
    value_type, value_nullable = _arrow_type(args[1], seen)
    return pa.map_(key_type, pa.field("value", value_type, nullable=value_nullable))


def _only_arg(annotation: object, args: tuple[object, ...]) -> object:
    """The single type argument of a generic such as list[X]."""
    if len(args) != 1:
        raise _Unsupported(f"{_describe(annotation)} needs exactly one type argument, e.g. list[str]")
    return args[0]


def _describe(annotation: object) -> str:
    """A readable name for an annotation in error messages."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


# -- values ---------------------------------------------------------------------------------------------


def _from_arrow(value: object, arrow_type: pa.DataType) -> object:
    """A `to_pylist` value made ready for pydantic: maps (lists of pairs) become dicts, recursively."""
    if value is None or not _has_map(arrow_type):
        return value
    if pa.types.is_map(arrow_type):
        item_type = arrow_type.item_type
        return {key: _from_arrow(item, item_type) for key, item in value}
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return [_from_arrow(item, arrow_type.value_type) for item in value]
    if pa.types.is_struct(arrow_type):
        return {f.name: _from_arrow(value[f.name], f.type) for f in arrow_type}
    return value


def _has_map(arrow_type: pa.DataType) -> bool:
    """Whether a map type occurs anywhere inside `arrow_type`."""
    if pa.types.is_map(arrow_type):
        return True
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _has_map(arrow_type.value_type)
    if pa.types.is_struct(arrow_type):
        return any(_has_map(f.type) for f in arrow_type)
    return False


def _null_violation(table: pa.Table, schema: pa.Schema) -> str | None:
    """The path of a non-nullable field that holds a null somewhere in `table`, or None."""
    for field in schema:
        for chunk in table.column(field.name).chunks:
            path = _array_null_violation(chunk, field, field.name)
            if path is not None:
                return path
    return None


def _array_null_violation(array: pa.Array, field: pa.Field, path: str) -> str | None:
    """The path of a non-nullable field with a null inside `array` (the values of `field`), or None."""
    if not field.nullable and array.null_count:
        return path
    arrow_type = field.type
    if pa.types.is_struct(arrow_type):
        valid = array.is_valid()
        for i, child in enumerate(arrow_type):
            found = _array_null_violation(array.field(i).filter(valid), child, f"{path}.{child.name}")
            if found is not None:
                return found
    elif pa.types.is_map(arrow_type):
        return _array_null_violation(array.items, arrow_type.item_field, f"{path}[]")
    elif pa.types.is_list(arrow_type):
        return _array_null_violation(array.flatten(), arrow_type.value_field, f"{path}[]")
    return None


def _first_bad_row(rows: list[dict[str, Any]], schema: pa.Schema) -> tuple[int, str]:
    """The index of the first row with a null in a non-nullable field, and that field's path."""
    for index, row in enumerate(rows):
        path = _null_violation(pa.Table.from_pylist([row], schema=schema), schema)
        if path is not None:
            return index, path
    raise AssertionError("no row holds the null that the table does")  # pragma: no cover
