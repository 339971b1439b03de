"""Meaning-preserving repairs of the OpenAPI specs in ToolAlpaca's published evaluation files:
`repair_spec(spec)` -> (the repaired spec, a note per repair made).

Each repair is for a quirk a published spec has that fails OpenAPI validation alone, and each moves or
completes what the spec says without inventing anything:

- `components` found inside `paths` (or inside a path item) moves to the spec's root, its sections
  merged into the root's (a name the root already has is kept as the root has it);
- a path item nested inside another path item (a key starting with `/`, AviationAPI's five operations
  after `/preferred-routes`) is lifted into `paths`, unless `paths` already has that path;
- a path key without its leading `/` (Fruityvice's `api/fruit/{name}`) gets one, unless the slashed
  path is there too;
- a path parameter marked `required: false` (chucknorris.io's `{category}`) is made required, as
  OpenAPI demands of every path parameter;
- Swagger 2's root `parameters` and `definitions` move to `components.parameters` and
  `components.schemas`, and every `$ref` to them (`#/parameters/X`, `#/definitions/X`) follows;
- a response with a bare Swagger-2 `schema` and no `content` (CurrencyBeacon's) gets it under
  `content`, in the operation's (or the spec's) first `produces` media type, else `application/json`.

What is left invalid stays invalid: the reader validates the repaired spec and leaves the tool out
when it still fails.
"""

from __future__ import annotations

import copy
from typing import Any

from schemas.spec import HTTP_METHODS

SWAGGER_SECTIONS = {"parameters": "parameters", "definitions": "schemas"}
"""Swagger 2 root section -> the `components` section OpenAPI 3 keeps it in."""
DEFAULT_MEDIA = "application/json"


def repair_spec(spec: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The spec with the module's repairs made (the given one is not changed), and a short note for
    each kind of repair made (none: the spec needed none)."""
    fixed = copy.deepcopy(spec)
    notes: list[str] = []
    if isinstance(fixed.get("paths"), dict):
        notes += _components_in_paths(fixed)
        notes += _nested_path_items(fixed)
        notes += _slashed_paths(fixed)
        notes += _required_path_parameters(fixed)
        notes += _bare_response_schemas(fixed)
    notes += _swagger_sections(fixed)
    return fixed, notes


def _items(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in spec["paths"].values() if isinstance(item, dict)]


def _merge_components(spec: dict[str, Any], found: dict[str, Any]) -> None:
    """`found`'s sections merged into the root's `components`; a name the root has wins."""
    root = spec.setdefault("components", {})
    if not isinstance(root, dict):
        return
    for section, entries in found.items():
        if isinstance(entries, dict) and isinstance(root.get(section, {}), dict):
            root[section] = {**entries, **root.get(section, {})}
        else:
            root.setdefault(section, entries)


def _components_in_paths(spec: dict[str, Any]) -> list[str]:
    paths, moved = spec["paths"], 0
    holders = [paths, *(item for item in paths.values() if isinstance(item, dict))]
    for holder in holders:
        found = holder.get("components")
        if isinstance(found, dict):
            del holder["components"]
            _merge_components(spec, found)
            moved += 1
    return ["moved `components` from inside `paths` to the spec's root"] if moved else []


def _nested_path_items(spec: dict[str, Any]) -> list[str]:
    paths, notes = spec["paths"], []
    pending = list(paths)
    while pending:
        path = pending.pop(0)
        item = paths.get(path)
        if not isinstance(item, dict):
            continue
        lifted = [key for key, value in item.items() if key.startswith("/") and isinstance(value, dict)]
        lifted = [key for key in lifted if key not in paths]
        for key in lifted:
            paths[key] = item.pop(key)
            pending.append(key)
        if lifted:
            shown = ", ".join(f"`{key}`" for key in lifted[:3]) + (", ..." if len(lifted) > 3 else "")
            notes.append(f"lifted {len(lifted)} path items nested inside `{path}` into `paths` ({shown})")
    return notes


def _slashed_paths(spec: dict[str, Any]) -> list[str]:
    paths = spec["paths"]
    fixed: dict[str, Any] = {}
    slashed = 0
    for path, item in paths.items():
        key = path if path.startswith("/") or f"/{path}" in paths else f"/{path}"
        slashed += key != path
        fixed[key] = item
    spec["paths"] = fixed
    return [f"gave {slashed} path keys their leading `/`"] if slashed else []


def _required_path_parameters(spec: dict[str, Any]) -> list[str]:
    made = 0
    for item in _items(spec):
        holders = [item, *(item[m] for m in HTTP_METHODS if isinstance(item.get(m), dict))]
        for holder in holders:
            parameters = holder.get("parameters")
            for parameter in parameters if isinstance(parameters, list) else []:
                if not isinstance(parameter, dict) or parameter.get("in") != "path":
                    continue
                if parameter.get("required") is not True:
                    parameter["required"] = True
                    made += 1
    return [f"made {made} path parameters required"] if made else []


def _bare_response_schemas(spec: dict[str, Any]) -> list[str]:
    moved = 0
    for item in _items(spec):
        for method in HTTP_METHODS:
            operation = item.get(method)
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if not isinstance(responses, dict):
                continue
            media = _media_type(operation, spec)
            for response in responses.values():
                if isinstance(response, dict) and "schema" in response and "content" not in response:
                    response["content"] = {media: {"schema": response.pop("schema")}}
                    moved += 1
    return [f"put the bare Swagger-2 `schema` of {moved} responses under `content`"] if moved else []


def _media_type(operation: dict[str, Any], spec: dict[str, Any]) -> str:
    """The operation's first `produces` media type (Swagger 2), else the spec's, else JSON."""
    for produces in (operation.get("produces"), spec.get("produces")):
        if isinstance(produces, list) and produces and isinstance(produces[0], str):
            return produces[0]
    return DEFAULT_MEDIA


def _swagger_sections(spec: dict[str, Any]) -> list[str]:
    notes = []
    for old, section in SWAGGER_SECTIONS.items():
        entries = spec.get(old)
        if not isinstance(entries, dict):
            continue
        del spec[old]
        _merge_components(spec, {section: entries})
        _retarget_refs(spec, f"#/{old}/", f"#/components/{section}/")
        notes.append(f"moved root-level `{old}` ({len(entries)}) to `components.{section}`")
    return notes


def _retarget_refs(node: Any, old: str, new: str) -> None:
    """Every `$ref` under `node` that starts with `old` made to start with `new` instead."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(old):
            node["$ref"] = new + ref[len(old) :]
        for value in node.values():
            _retarget_refs(value, old, new)
    elif isinstance(node, list):
        for value in node:
            _retarget_refs(value, old, new)
