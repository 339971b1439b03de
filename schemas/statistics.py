"""A run's statistics, as a paper would print them: ToolAlpaca's Table 1 and Figure 4, plus the
dialogue types, the rejections by step and rule, and the LLM usage and cost.

Computed once at the end of a run (`tasks/statistics.py`) and stored in the manifest; the Prefect
artifact `corpus-statistics`, the run's HTML report and the exports' dataset cards show these figures.
"""

from __future__ import annotations

import bisect

from pydantic import AliasChoices, BaseModel, Field, field_validator

from schemas.rejection import conformed_rule

WORD_BINS = [0, 5, 10, 15, 20, 30, 40, 60, 80, 120, 200]
"""Edges of the word-count histograms (a last bin holds everything from the last edge up)."""
STEP_BINS = [0, 1, 2, 3, 4, 5, 6, 8, 10]
"""Edges of the steps-per-dialogue histogram."""


class Histogram(BaseModel):
    """Counts per bin: bin i holds values v with `edges[i] <= v < edges[i + 1]`, the last bin every
    v from `edges[-1]` up."""

    edges: list[int]
    counts: list[int]

    @classmethod
    def of(cls, values: list[int], edges: list[int]) -> Histogram:
        counts = [0] * len(edges)
        for value in values:
            counts[max(bisect.bisect_right(edges, value) - 1, 0)] += 1
        return cls(edges=edges, counts=counts)

    def labels(self) -> list[str]:
        """A label per bin: `5-9`, ..., `200+`."""
        ends = [*self.edges[1:], None]
        return [
            f"{lo}+" if hi is None else (str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}")
            for lo, hi in zip(self.edges, ends, strict=True)
        ]


class RejectionCount(BaseModel):
    """Items rejected at one step by one rule (a manifest written before named the step `stage`, and
    the failure rules `llm` and `task`)."""

    step: str = Field(validation_alias=AliasChoices("step", "stage"))
    rule: str
    count: int

    _one_spelling = field_validator("rule", mode="before")(conformed_rule)


class CorpusStatistics(BaseModel):
    """ToolAlpaca's Table 1 for the accepted dialogues of a run, and more."""

    categories: int = Field(description="Categories of the run's tools.")
    tools: int = Field(description="Tools built (seeds that passed the toolset stage).")
    tools_with_dialogs: int = Field(description="Tools with at least one accepted dialogue.")
    instances: int = Field(description="Accepted dialogues.")
    rejected_instances: int = Field(description="Rejected dialogues.")
    single_call: int = Field(description="Accepted dialogues with exactly one function call.")
    multiple_calls: int = Field(description="Accepted dialogues with two function calls or more.")
    no_call: int = Field(description="Accepted dialogues with no function call (non-tool).")
    avg_functions_per_tool: float = Field(description="Functions per tool, over the tools built.")
    avg_steps: float = Field(description="ReAct steps per accepted dialogue (calls, clarifying questions).")
    avg_request_words: float = Field(description="Words in the user's first request, per accepted dialogue.")
    avg_answer_words: float = Field(description="Words in the final answer, per accepted dialogue.")
    dialog_types: dict[str, int] = Field(default_factory=dict, description="Accepted dialogues per type.")
    tools_per_category: dict[str, int] = Field(default_factory=dict, description="Tools built per category.")
    rejections: list[RejectionCount] = Field(
        default_factory=list, description="Rejections by step and rule (APIs, tools and dialogues)."
    )
    request_words: Histogram = Field(description="Figure 4: words per request (accepted dialogues).")
    answer_words: Histogram = Field(description="Figure 4: words per final answer (accepted dialogues).")
    steps: Histogram = Field(description="Figure 4: ReAct steps per accepted dialogue.")
    llm_calls: int = 0
    llm_cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
