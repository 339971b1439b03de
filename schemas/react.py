"""Instances as the ReAct training text of the original work.

Thought: ...
Action: getRecord
Action Input: {"recordId": "42"}
Observation: {"status_code": 200, "body": {...}}
...
Final Answer: ...
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.instance import Instance, Step


def render_steps(steps: Sequence[Step]) -> str:
    """The steps as Thought / Action / Action Input / Observation blocks."""
    return "\n".join(
        f"Thought: {s.thought}\nAction: {s.action}\n"
        f"Action Input: {s.action_input}\nObservation: {s.observation}"
        for s in steps
    )


def render_react(instance: Instance, *, with_instruction: bool = True) -> str:
    """One instance as ReAct text: the instruction, its steps and the final answer."""
    parts = [instance.instruction] if with_instruction else []
    if instance.steps:
        parts.append(render_steps(instance.steps))
    parts.append(f"Final Answer: {instance.final_answer}")
    return "\n".join(parts)
