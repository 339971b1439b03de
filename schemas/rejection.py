"""Rejections: every item that enters a step leaves it as an output or as one of these."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Rejection(BaseModel):
    """One item a step rejected: a row of `rejections`, which lists every rejection of a run by step
    and rule (the rejected tools and dialogues themselves are in `rejected_tools` and
    `rejected_dialogs`)."""

    item_id: str = Field(description="The id of what was rejected: a seed, tool or dialogue id.")
    step: str
    rule: str
    reason: str
