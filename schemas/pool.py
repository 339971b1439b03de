"""The self-evolving API pool (ToolACE): a taxonomy of domains and functions grown by the LLM, the
APIs synthesized for parts of it, and the answers the LLM is asked for on the way.

Records: `TaxonomyNode` (a row of `taxonomy/`), `PoolAPI` (a row of `apis/`: an API written for a
subtree of the taxonomy and evolved by diversity operators), `RejectedAPI` (a row of
`rejected_apis/`). Answers (their JSON schemas constrain the LLM's decoding): `TaxonomyGrowth`,
`APIDraft` and the operators' edits (`NewFunction`, `NewParameter`, `Constraint`, `NestedParameter`,
`NewReturn`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from schemas.rejection import FailureRule, Rejected, Rejection, Step
from schemas.tool import (
    IDENTIFIER,
    FieldDoc,
    FunctionDoc,
    ParameterDoc,
    PropertyDoc,
    StringFormat,
    SubFieldDoc,
)

Level = Literal["domain", "coarse", "fine"]
NodeOrigin = Literal["seed", "user", "llm"]
Operator = Literal["add_function", "add_parameter", "add_constraint", "nest_parameter", "change_return"]
OPERATORS: tuple[Operator, ...] = (
    "add_function",
    "add_parameter",
    "add_constraint",
    "nest_parameter",
    "change_return",
)
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
IDENTIFIER_RE = re.compile(IDENTIFIER)
PoolRejectRule = Literal["no_api", "operator_not_applied", "invalid_api", "duplicate_api", FailureRule]


class TaxonomyNode(BaseModel):
    """One node of the taxonomy: a domain, a coarse function of a domain, or a fine function of a
    coarse one."""

    node_id: str = Field(description="'d3', 'd3.c1', 'd3.c1.f2': the path of positions.")
    level: Level
    name: str
    description: str = ""
    parent_id: str | None = None
    path: list[str] = Field(description="The names from the domain down to this node.")
    origin: NodeOrigin = Field(description="seed (a seed list's category), user (--domain) or llm (grown).")


class NodeDraft(BaseModel):
    """A child node as the LLM writes it."""

    name: str = Field(min_length=2, max_length=60)
    description: str = Field(min_length=10, max_length=200)


class TaxonomyGrowth(BaseModel):
    """The LLM's answer when a node is grown: its new children."""

    children: list[NodeDraft] = Field(min_length=1, max_length=40)


class APIDraft(BaseModel):
    """An API as the LLM writes it for a part of the taxonomy (adaptation): what the toolset stage
    compiles into an OpenAPI spec once the operators have evolved it."""

    name: str = Field(min_length=3, max_length=60, description="A product-like name, e.g. 'TideCast'.")
    description: str = Field(min_length=20, max_length=300, description="One sentence on what it offers.")
    functions: list[FunctionDoc] = Field(min_length=1, max_length=5)

    @field_validator("functions", mode="before")
    @classmethod
    def _completed(cls, functions: Any) -> Any:
        return [completed_function(f) for f in functions or []]


def completed_function(function: Any) -> Any:
    """A function as the LLM wrote it, with what it implies written out (`declared_path_parameters`,
    `with_element_types`)."""
    return declared_path_parameters(with_element_types(function)) if isinstance(function, dict) else function


def with_element_types(value: Any) -> Any:
    """`value` with every array (a parameter, property or field of type `array`) that names no
    element type holding strings, OpenAPI's plainest reading of an untyped list."""
    if isinstance(value, list):
        return [with_element_types(item) for item in value]
    if not isinstance(value, dict):
        return value
    done = {key: with_element_types(item) for key, item in value.items()}
    if done.get("type") == "array" and not done.get("items_type"):
        done["items_type"] = "string"
    return done


def declared_path_parameters(function: dict[str, Any]) -> dict[str, Any]:
    """`function` (as the LLM wrote it) with a path parameter for each undeclared placeholder."""
    path = function.get("path")
    parameters = function.get("parameters") or []
    if not isinstance(path, str) or not isinstance(parameters, list):
        return function
    named = {p.get("name") for p in parameters if isinstance(p, dict)}
    missing = [name for name in PLACEHOLDER.findall(path) if name not in named and IDENTIFIER_RE.match(name)]
    added = [
        {"name": name, "location": "path", "type": "string", "required": True, "description": f"The {name}."}
        for name in dict.fromkeys(missing)
    ]
    return {**function, "parameters": [*parameters, *added]} if added else function


class Change(BaseModel):
    """An operator's change, as the LLM writes it: every list it holds that names no element type
    holds strings (`with_element_types`)."""

    @model_validator(mode="before")
    @classmethod
    def _typed(cls, data: Any) -> Any:
        return with_element_types(data)


class NewFunction(Change):
    """add_function: one more function, unlike the API's others."""

    function: FunctionDoc

    @field_validator("function", mode="before")
    @classmethod
    def _declared(cls, function: Any) -> Any:  # element types: already given by `Change`
        return declared_path_parameters(function) if isinstance(function, dict) else function


class NewParameter(Change):
    """add_parameter: one more input of an existing function."""

    function: str = Field(pattern=IDENTIFIER)
    parameter: ParameterDoc


class Constraint(Change):
    """add_constraint: a constraint on an existing parameter: allowed values, a range or a format."""

    function: str = Field(pattern=IDENTIFIER)
    parameter: str = Field(pattern=IDENTIFIER)
    enum: list[str] = Field(default_factory=list, max_length=12, description="Allowed values, if a set.")
    minimum: float | None = Field(default=None, description="Smallest value, for a number.")
    maximum: float | None = Field(default=None, description="Largest value, for a number.")
    format: StringFormat | None = Field(default=None, description="What a string holds.")


class NestedParameter(Change):
    """nest_parameter: a new input of an existing function that is an object, or an array of objects,
    with properties of its own."""

    function: str = Field(pattern=IDENTIFIER)
    name: str = Field(pattern=IDENTIFIER)
    description: str = Field(min_length=3, max_length=300)
    container: Literal["object", "array"] = Field(description="One object, or a list of them.")
    required: bool = False
    properties: list[PropertyDoc] = Field(min_length=1, max_length=6)


class NestedField(BaseModel):
    """A response field that holds an object, or an array of objects, with fields of its own."""

    name: str = Field(pattern=IDENTIFIER)
    container: Literal["object", "array"]
    description: str = Field(default="", max_length=300)
    fields: list[SubFieldDoc] = Field(min_length=1, max_length=6)


class NewReturn(Change):
    """change_return: what an existing function returns, rewritten around a nested field."""

    function: str = Field(pattern=IDENTIFIER)
    response_description: str = Field(min_length=3, max_length=300)
    nested: NestedField
    fields: list[FieldDoc] = Field(default_factory=list, max_length=6, description="Flat fields beside it.")


class APISketch(BaseModel):
    """An earlier API as an example shown to the LLM: its name, description and function names."""

    api_id: str
    name: str
    description: str
    functions: list[str]


class PoolAPI(BaseModel):
    """An API of the pool: written for a subtree of the taxonomy, evolved by its operators, kept by
    the dedup. Its functions are in the catalog shape the toolset stage compiles."""

    api_id: str = Field(description="'pool-000042': the plan's position; stable across runs and resumes.")
    index: int = Field(ge=0)
    generation: int = Field(ge=0, description="Generation g takes its examples from generation g-1.")
    name: str
    description: str
    domain: str
    taxonomy_path: list[str] = Field(description="Domain and coarse function the API covers.")
    covers: list[str] = Field(description="The fine functions (node ids) it was written for.")
    operators: list[Operator] = Field(description="The diversity operators applied, in order.")
    examples: list[str] = Field(description="The ids of the earlier APIs shown to it as examples.")
    functions: list[FunctionDoc]
    model: str = Field(description="The model that wrote it.")

    @field_validator("functions")
    @classmethod
    def _some(cls, functions: list[FunctionDoc]) -> list[FunctionDoc]:
        if not functions:
            raise ValueError("an API has at least one function")
        return functions

    @property
    def seed_id(self) -> str:
        """Its id as the toolset step's item (the tool's id)."""
        return self.api_id

    def sketch(self) -> APISketch:
        return APISketch(
            api_id=self.api_id,
            name=self.name,
            description=self.description,
            functions=[f.name for f in self.functions],
        )


class RejectedAPI(Rejected):
    """A planned API that did not enter the pool (step `pool`), with the rule and reason (and, for a
    duplicate, the API it repeats)."""

    step: Step = "pool"
    rule: PoolRejectRule
    api_id: str
    index: int
    generation: int
    name: str = ""
    domain: str

    @property
    def rejection(self) -> Rejection:
        return self.rejection_of(self.api_id)
