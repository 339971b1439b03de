"""Tool records: what the toolsmith writes for one API, and the compiled, validated tool.

`Introduction` and `FunctionCatalog` are the structured answers asked of the LLM (their JSON schemas
constrain its decoding); `Tool` and `RejectedTool` are the rows of `tools.parquet` and
`rejected_tools.parquet`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from jsonschema import FormatChecker
from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from schemas.rejection import FailureRule, Rejected, Rejection

IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
JsonType = Literal["string", "integer", "number", "boolean", "array", "object"]
ScalarType = Literal["string", "integer", "number", "boolean"]
ItemsType = Literal["string", "integer", "number", "boolean", "object"]
StringFormat = Literal["date", "date-time", "email", "uri", "uuid"]
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
MAX_PROPERTIES = 8
"""Properties of an object parameter, fields of an object response field: at most."""
_FORMATS = FormatChecker()

ShownItemsType = Annotated[
    ItemsType | None, WithJsonSchema(TypeAdapter(ScalarType | None).json_schema(mode="validation"))
]
"""`items_type` of a parameter or response field: `object` too, but the JSON schema that constrains the
toolsmith's decoding shows the scalar types only, as it always has (arrays of objects, with their
properties, are written by code: the diversity operators)."""


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


def _check_values(owner: str, kind: str, values: list[str]) -> None:
    """ValueError unless every value (enum values, a default) is a valid `kind` written as text."""
    for value in values:
        try:
            _coerce(value, kind)
        except ValueError:
            raise ValueError(f"{owner}: {value!r} is not a valid {kind}") from None


def _distinct_names(owner: str, names: list[str]) -> None:
    if len(set(names)) != len(names):
        raise ValueError(f"{owner} repeats a name among {names}")


class PropertyDoc(BaseModel):
    """One property of an object parameter (or of each object an array parameter holds): a scalar or
    an array of scalars. One level only: an object inside an object is not written (Parquet structs
    cannot recurse)."""

    name: str = Field(pattern=IDENTIFIER)
    type: ScalarType | Literal["array"] = "string"
    items_type: ScalarType | None = Field(default=None, description="Element type, only for arrays.")
    description: str = Field(min_length=3, max_length=300)
    required: bool = False
    enum: list[str] = Field(
        default_factory=list, max_length=12, description="Allowed values, if a fixed set."
    )

    @model_validator(mode="after")
    def _consistent(self) -> PropertyDoc:
        if self.type == "array" and self.items_type is None:
            raise ValueError(f"property {self.name!r} is an array: give items_type")
        _check_values(f"property {self.name!r}", self.type, self.enum)
        return self

    def typed_enum(self) -> list[object]:
        return [_coerce(v, self.type) for v in self.enum]


class ParameterDoc(BaseModel):
    """One input of a function."""

    # The docstring is the description in the toolsmith's decoding schema: it stays as it was. So do
    # the fields it shows; the fields after `default` are filled by code (the diversity operators),
    # never by the toolsmith, and `SkipJsonSchema` leaves them out of that schema.

    name: str = Field(pattern=IDENTIFIER)
    location: ParamLocation = Field(default="query", description="Where the value goes in the HTTP request.")
    type: JsonType = "string"
    items_type: ShownItemsType = Field(default=None, description="Element type, only for arrays.")
    description: str = Field(min_length=3, max_length=300)
    required: bool = False
    enum: list[str] = Field(
        default_factory=list, max_length=12, description="Allowed values, if a fixed set."
    )
    default: str | None = Field(default=None, max_length=100, description="Default value, written as text.")
    minimum: SkipJsonSchema[float | None] = Field(
        default=None, allow_inf_nan=False, description="Smallest value, for a number."
    )
    maximum: SkipJsonSchema[float | None] = Field(
        default=None, allow_inf_nan=False, description="Largest value, for a number."
    )
    format: SkipJsonSchema[StringFormat | None] = Field(default=None, description="What a string holds.")
    properties: SkipJsonSchema[list[PropertyDoc]] = Field(
        default_factory=list,
        max_length=MAX_PROPERTIES,
        description="The fields of an object, or of each object of an array of objects (then required).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ParameterDoc:
        if self.type == "array" and self.items_type is None:
            raise ValueError(f"parameter {self.name!r} is an array: give items_type")
        if self.location == "path" and self.type in {"array", "object"}:
            raise ValueError(f"path parameter {self.name!r} must be a string, integer, number or boolean")
        if self.location == "path" and not self.required:
            self.required = True
        values = [*self.enum, *([self.default] if self.default is not None else [])]
        _check_values(f"parameter {self.name!r}", self.type, values)
        if self.enum and self.default is not None and self.default not in self.enum:
            raise ValueError(
                f"parameter {self.name!r}: default {self.default!r} is not one of its enum values"
            )
        self._check_range(values)
        self._check_format(values)
        self._check_properties()
        return self

    def _check_range(self, values: list[str]) -> None:
        """A range only for numbers, not upside down, and holding the enum values and the default."""
        if self.minimum is None and self.maximum is None:
            return
        if self.type not in {"integer", "number"}:
            raise ValueError(f"parameter {self.name!r}: minimum and maximum are for integers and numbers")
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        if low > high:
            raise ValueError(f"parameter {self.name!r}: minimum {low} is above maximum {high}")
        outside = [v for v in values if not low <= float(v) <= high]
        if outside:
            raise ValueError(f"parameter {self.name!r}: {outside[0]!r} is outside its range")

    def _check_format(self, values: list[str]) -> None:
        """A format only for strings, and one the enum values and the default have."""
        if self.format is None:
            return
        if self.type != "string":
            raise ValueError(f"parameter {self.name!r}: a format is for strings, not a {self.type}")
        wrong = [v for v in values if not _FORMATS.conforms(v, self.format)]
        if wrong:
            raise ValueError(f"parameter {self.name!r}: {wrong[0]!r} is not a {self.format}")

    def _check_properties(self) -> None:
        """Properties for an object (optional: without, a free-form object) and for an array of
        objects (required), and for nothing else."""
        owner = f"parameter {self.name!r}"
        if self.holds_objects:
            _distinct_names(owner, [p.name for p in self.properties])
        elif self.properties:
            raise ValueError(f"{owner}: only an object or an array of objects has properties")
        if self.items_type == "object" and self.type != "array":
            raise ValueError(f"{owner}: items_type object is for an array")
        if self.items_type == "object" and not self.properties:
            raise ValueError(f"{owner} is an array of objects: give their properties")

    @property
    def holds_objects(self) -> bool:
        """Whether the value is an object or an array of objects."""
        return self.type == "object" or (self.type == "array" and self.items_type == "object")

    def typed_enum(self) -> list[object]:
        return [_coerce(v, self.type) for v in self.enum]

    def typed_default(self) -> object:
        return None if self.default is None else _coerce(self.default, self.type)


class SubFieldDoc(BaseModel):
    """One field of an object response field (or of each object of an array field): a scalar or an
    array of scalars, one level only."""

    name: str = Field(pattern=IDENTIFIER)
    type: ScalarType | Literal["array"] = "string"
    items_type: ScalarType | None = Field(default=None, description="Element type, only for arrays.")
    description: str = Field(default="", max_length=300)

    @model_validator(mode="after")
    def _consistent(self) -> SubFieldDoc:
        if self.type == "array" and self.items_type is None:
            raise ValueError(f"field {self.name!r} is an array: give items_type")
        return self


class FieldDoc(BaseModel):
    """One field of a function's JSON response."""

    # As for ParameterDoc: the docstring and the fields shown stay as they were; `fields` is filled by
    # code and left out of the toolsmith's decoding schema. An object without fields is free-form.

    name: str = Field(pattern=IDENTIFIER)
    type: JsonType = "string"
    items_type: ShownItemsType = Field(default=None, description="Element type, only for arrays.")
    description: str = Field(default="", max_length=300)
    fields: SkipJsonSchema[list[SubFieldDoc]] = Field(
        default_factory=list,
        max_length=MAX_PROPERTIES,
        description="The fields of an object, or of each object of an array of objects (then required).",
    )

    @field_validator("fields")
    @classmethod
    def _first_of_each_field(cls, fields: list[SubFieldDoc]) -> list[SubFieldDoc]:
        """A sub-field named twice is kept once (its first description), as response fields are."""
        return _first_by(fields, lambda f: f.name)

    @model_validator(mode="after")
    def _consistent(self) -> FieldDoc:
        objects = self.type == "array" and self.items_type == "object"
        if self.fields and not (self.type == "object" or objects):
            raise ValueError(f"field {self.name!r}: only an object or an array of objects has fields")
        if self.items_type == "object" and self.type != "array":
            raise ValueError(f"field {self.name!r}: items_type object is for an array")
        if objects and not self.fields:
            raise ValueError(f"field {self.name!r} is an array of objects: give their fields")
        return self


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
    origin: Literal["list", "pool"] = Field(
        default="list", description="list: a seed list's API; pool: synthesized by the API pool (--evolve)."
    )
    taxonomy_path: list[str] = Field(
        default_factory=list, description="A pool API's domain and coarse function; empty for a listed one."
    )
    operators: list[str] = Field(
        default_factory=list, description="The diversity operators a pool API was evolved by, in order."
    )


ToolRejectRule = Literal["introduction", "functions", "openapi", "media", "duplicate_tool", FailureRule]
"""Why a seed did not become a tool: the part of the toolset step it failed at (its introduction or
its functions could not be written, its OpenAPI spec is invalid, its media are not textual), the
seed dedup (`duplicate_tool`), or a failure."""


class RejectedTool(Rejected):
    """A seed (or a pool API) that did not become a tool: step `toolset` (rule: the part it failed
    at, or a failure) or `dedup` (`duplicate_tool`, with the seed it repeats)."""

    rule: ToolRejectRule = Field(validation_alias=AliasChoices("rule", "stage"))
    tool_id: str
    name: str
    category: str

    @model_validator(mode="before")
    @classmethod
    def _from_stage(cls, data: Any) -> Any:
        """A record written before the shared vocabulary names its `stage` only: the seed dedup's, or
        the part of the toolset step (or the failure) that is now its rule."""
        if not isinstance(data, dict) or "stage" not in data or "step" in data:
            return data
        stage = data["stage"]
        if stage == "dedup":
            return {**data, "step": "dedup", "rule": "duplicate_tool"}
        return {**data, "step": "toolset", "rule": stage}

    @property
    def rejection(self) -> Rejection:
        return self.rejection_of(self.tool_id)
