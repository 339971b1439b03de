"""Tool records: what the toolsmith writes for one API, and the compiled, validated tool.

`Introduction` and `FunctionCatalog` are the structured answers asked of the LLM (their JSON schemas
constrain its decoding); `Tool` and `RejectedTool` are the rows of `tools.parquet` and
`rejected_tools.parquet`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, field_validator, model_validator

IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
JsonType = Literal["string", "integer", "number", "boolean", "array", "object"]
ScalarType = Literal["string", "integer", "number", "boolean"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ParamLocation = Literal["query", "path", "body"]
MediaType = Literal[
    "application/json",
    "text/plain",
    "text/csv",
    "text/html",
    "application/xml",
    "image/png",
    "image/jpeg",
    "audio/mpeg",
    "video/mp4",
    "application/pdf",
    "application/octet-stream",
    "multipart/form-data",
]
TEXTUAL_MEDIA_TYPES = frozenset(
    {"application/json", "text/plain", "text/csv", "text/html", "application/xml"}
)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
T = TypeVar("T")


def _coerce(value: str, kind: str) -> object:
    """A string written by the LLM as a value of a JSON type; ValueError if it is not one."""
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        if value.lower() not in {"true", "false"}:
            raise ValueError(f"{value!r} is not a boolean")
        return value.lower() == "true"
    if kind in {"array", "object"}:
        parsed = json.loads(value)
        if not isinstance(parsed, list if kind == "array" else dict):
            raise ValueError(f"{value!r} is not an {kind}")
        return parsed
    return value


def _first_by(items: list[T], key: Callable[[T], object]) -> list[T]:
    """`items` in order, without the later ones whose key was already seen."""
    seen: set[object] = set()
    kept = []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            kept.append(item)
    return kept


class ParameterDoc(BaseModel):
    """One input of a function."""

    name: str = Field(pattern=IDENTIFIER)
    location: ParamLocation = Field(default="query", description="Where the value goes in the HTTP request.")
    type: JsonType = "string"
    items_type: ScalarType | None = Field(default=None, description="Element type, only for arrays.")
    description: str = Field(min_length=3, max_length=300)
    required: bool = False
    enum: list[str] = Field(
        default_factory=list, max_length=12, description="Allowed values, if a fixed set."
    )
    default: str | None = Field(default=None, max_length=100, description="Default value, written as text.")

    @model_validator(mode="after")
    def _consistent(self) -> ParameterDoc:
        if self.type == "array" and self.items_type is None:
            raise ValueError(f"parameter {self.name!r} is an array: give items_type")
        if self.location == "path" and self.type in {"array", "object"}:
            raise ValueError(f"path parameter {self.name!r} must be a string, integer, number or boolean")
        if self.location == "path" and not self.required:
            self.required = True
        for value in [*self.enum, *([self.default] if self.default is not None else [])]:
            try:
                _coerce(value, self.type)
            except ValueError:
                raise ValueError(f"parameter {self.name!r}: {value!r} is not a valid {self.type}") from None
        if self.enum and self.default is not None and self.default not in self.enum:
            raise ValueError(
                f"parameter {self.name!r}: default {self.default!r} is not one of its enum values"
            )
        return self

    def typed_enum(self) -> list[object]:
        return [_coerce(v, self.type) for v in self.enum]

    def typed_default(self) -> object:
        return None if self.default is None else _coerce(self.default, self.type)


class FieldDoc(BaseModel):
    """One field of a function's JSON response."""

    name: str = Field(pattern=IDENTIFIER)
    type: JsonType = "string"
    items_type: ScalarType | None = Field(default=None, description="Element type, only for arrays.")
    description: str = Field(default="", max_length=300)


class ErrorCase(BaseModel):
    """An HTTP error a function can answer with."""

    status: int = Field(ge=400, le=599)
    description: str = Field(min_length=3, max_length=300)


class FunctionDoc(BaseModel):
    """One function of a tool: an HTTP operation with documented inputs, output and errors."""

    name: str = Field(pattern=IDENTIFIER, description="camelCase verb phrase, e.g. getRandomFact.")
    description: str = Field(min_length=10, max_length=500)
    method: HttpMethod = "GET"
    path: str = Field(pattern=r"^/[A-Za-z0-9_\-./{}]*$", max_length=120, description="e.g. /facts/{factId}")
    parameters: list[ParameterDoc] = Field(default_factory=list, max_length=8)
    request_media_type: MediaType = Field(default="application/json", description="Body media type.")
    response_media_type: MediaType = "application/json"
    response_description: str = Field(min_length=3, max_length=300)
    response_fields: list[FieldDoc] = Field(min_length=1, max_length=8)
    errors: list[ErrorCase] = Field(default_factory=list, max_length=4)

    @model_validator(mode="after")
    def _consistent(self) -> FunctionDoc:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"function {self.name!r} repeats a parameter name")
        placeholders = _PLACEHOLDER.findall(self.path)
        path_params = [p.name for p in self.parameters if p.location == "path"]
        if sorted(placeholders) != sorted(path_params):
            raise ValueError(
                f"function {self.name!r}: path {self.path!r} has placeholders {placeholders}, "
                f"but its path parameters are {path_params}; they must match"
            )
        if self.method in {"GET", "DELETE"} and any(p.location == "body" for p in self.parameters):
            raise ValueError(f"function {self.name!r}: a {self.method} request has no body parameters")
        return self

    @field_validator("response_fields")
    @classmethod
    def _first_of_each_field(cls, fields: list[FieldDoc]) -> list[FieldDoc]:
        """A field named twice is kept once (its first description): the shape stays the same."""
        return _first_by(fields, lambda f: f.name)

    @field_validator("errors")
    @classmethod
    def _first_of_each_status(cls, errors: list[ErrorCase]) -> list[ErrorCase]:
        """A status listed twice is kept once (its first description)."""
        return _first_by(errors, lambda e: e.status)

    @property
    def has_body(self) -> bool:
        return any(p.location == "body" for p in self.parameters)


class Introduction(BaseModel):
    """The toolsmith's detailed introduction to a tool."""

    introduction: str = Field(min_length=80, max_length=1000)


class FunctionCatalog(BaseModel):
    """The toolsmith's function documentation for a tool."""

    functions: list[FunctionDoc] = Field(min_length=1, max_length=5)

    @field_validator("functions")
    @classmethod
    def _distinct(cls, functions: list[FunctionDoc]) -> list[FunctionDoc]:
        names = [f.name.lower() for f in functions]
        if len(set(names)) != len(names):
            raise ValueError("function names must be distinct")
        routes = [(f.method, _PLACEHOLDER.sub("{}", f.path)) for f in functions]
        if len(set(routes)) != len(routes):
            raise ValueError("two functions share the same method and path")
        return functions


class FunctionRoute(BaseModel):
    """Where a function lives in the OpenAPI spec."""

    name: str
    method: str
    path: str


class Tool(BaseModel):
    """A tool ready for simulation: its introduction, documentation and validated OpenAPI spec."""

    tool_id: str
    name: str
    category: str
    description: str
    link: str
    auth: str
    introduction: str
    functions: list[FunctionDoc]
    openapi: str = Field(
        description="The OpenAPI 3 spec, as JSON text; always passes openapi-spec-validator."
    )
    nl_documentation: str = Field(description="The spec as text: what later agents read.")
    routes: list[FunctionRoute]
    model: str = Field(description="The model that wrote the documentation.")


RejectStage = Literal["introduction", "functions", "openapi", "media", "llm", "task", "dedup"]


class RejectedTool(BaseModel):
    """A seed that did not become a tool, with the stage and the reason."""

    tool_id: str
    name: str
    category: str
    stage: RejectStage
    reason: str
