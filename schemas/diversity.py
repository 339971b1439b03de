"""Diversity figures of a run: how varied its tools and accepted dialogues are (the manifest's
`diversity`, and a section of the run's report).

The figures are those the field reports for a tool-use corpus: distinct-n of the requests and answers
(distinct n-grams over all n-grams, lowercase word tokens, over the whole corpus), functions per tool,
the parameter types of the functions, the spread of tools over categories (Shannon entropy), and
the dialogues per type, complexity band and number of calls. `tasks/diversity.py` counts them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

FUNCTION_BUCKETS: tuple[str, ...] = ("1", "2", "3", "4", "5", "6+")
"""The histogram keys of functions per tool (a tool without functions, which the toolset never makes,
is in none)."""
CALL_BUCKETS: tuple[str, ...] = ("0", "1", "2", "3", "4", "5+")
"""The histogram keys of calls per dialogue."""


class Distinctness(BaseModel):
    """How varied a set of texts is: for n = 1, 2, 3, the distinct n-grams of lowercase word tokens
    over all n-grams of all the texts (n-grams are taken within a text; 0.0 when there are none)."""

    count: int = Field(default=0, description="Texts counted.")
    tokens: int = Field(default=0, description="Word tokens in all the texts.")
    distinct_1: float = Field(default=0.0, description="Distinct words / words.")
    distinct_2: float = Field(default=0.0, description="Distinct word pairs / word pairs.")
    distinct_3: float = Field(default=0.0, description="Distinct word triples / word triples.")


class FunctionsPerTool(BaseModel):
    """How many functions the run's tools have."""

    mean: float = Field(default=0.0, description="Mean functions per tool (0.0 without tools).")
    min: int = Field(default=0, description="The fewest functions of a tool (0 without tools).")
    max: int = Field(default=0, description="The most functions of a tool (0 without tools).")
    histogram: dict[str, int] = Field(
        default_factory=lambda: dict.fromkeys(FUNCTION_BUCKETS, 0),
        description='Tools by number of functions: "1" to "5", and "6+".',
    )


class ParameterTypes(BaseModel):
    """The types of every parameter of every function of the run's tools (a path, query, header or
    cookie parameter, or a field of the request body), by its JSON schema."""

    total: int = Field(default=0, description="Parameters counted.")
    string: int = Field(default=0, description="Parameters of type string.")
    number: int = Field(default=0, description="Parameters of type number or integer.")
    boolean: int = Field(default=0, description="Parameters of type boolean.")
    array: int = Field(default=0, description="Parameters of type array.")
    object: int = Field(default=0, description="Parameters of type object.")
    other: int = Field(default=0, description="Parameters of no stated type, or another (null).")
    nested: int = Field(
        default=0, description="Array or object parameters that hold an array or an object inside."
    )
    with_constraint: int = Field(
        default=0,
        description="Parameters whose schema (or a schema inside it) states a constraint: enum, const, "
        "format, minimum, maximum, pattern, minLength, maxLength, minItems, ...",
    )


class Categories(BaseModel):
    """How the run's tools spread over categories."""

    count: int = Field(default=0, description="Categories with at least one tool.")
    tools: dict[str, int] = Field(default_factory=dict, description="Tools per category.")
    entropy_bits: float = Field(
        default=0.0, description="Shannon entropy of the tools' categories, in bits (0.0 for one category)."
    )
    normalized_entropy: float = Field(
        default=0.0,
        description="entropy_bits / log2(count): 1.0 when the tools spread evenly (0.0 for fewer than 2).",
    )


class CallsPerDialog(BaseModel):
    """How many function calls the accepted dialogues make."""

    mean: float = Field(default=0.0, description="Mean calls per dialogue (0.0 without dialogues).")
    histogram: dict[str, int] = Field(
        default_factory=lambda: dict.fromkeys(CALL_BUCKETS, 0),
        description='Dialogues by number of calls: "0" to "4", and "5+".',
    )


class Diversity(BaseModel):
    """The diversity figures of a run: its tools (all of them) and its accepted dialogues."""

    tools: int = Field(default=0, description="Tools counted.")
    dialogs: int = Field(default=0, description="Accepted dialogues counted.")
    requests: Distinctness = Field(
        default_factory=Distinctness,
        description="The user's requests (the first and each follow-up; replies to clarifying questions "
        "are not requests).",
    )
    answers: Distinctness = Field(
        default_factory=Distinctness, description="The assistant's final answers (one per request)."
    )
    functions_per_tool: FunctionsPerTool = Field(
        default_factory=FunctionsPerTool, description="Functions per tool."
    )
    parameter_types: ParameterTypes = Field(
        default_factory=ParameterTypes, description="The parameters of the tools' functions, by type."
    )
    categories: Categories = Field(default_factory=Categories, description="Tools per category.")
    dialog_types: dict[str, int] = Field(
        default_factory=dict, description="Accepted dialogues per dialogue type (every type, 0 included)."
    )
    complexity_bands: dict[str, int] = Field(
        default_factory=dict, description="Accepted dialogues per complexity band (every band, 0 included)."
    )
    calls_per_dialog: CallsPerDialog = Field(
        default_factory=CallsPerDialog, description="Function calls per accepted dialogue."
    )
