"""The atlas tool and scripted answers for simulation tests: an LLM that answers each structured
request from a function (`scripted`), the canned answers of `bench.responders` for the rest."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agents.llm.gateway import LLMGateway
from bench import responders
from schemas.dialog import DialogType
from schemas.seed import Seed
from schemas.simulation import Instruction
from schemas.tool import Tool
from tasks.toolset import build_tool
from tests.support.fake_llm import ScriptedLLM

SEED = Seed(
    seed_id="atlas",
    name="Atlas",
    description="Records about places",
    category="Geo",
    link="https://atlas.example.org",
    source="test",
)


def atlas_tool(scripted_llm: ScriptedLLM, llm_config: Any) -> Tool:
    """The atlas tool, built by the canned toolsmith: functions `searchAtlas` and `getAtlasRecord`."""
    scripted_llm.script = responders.toolforge
    built = build_tool(SEED, LLMGateway(llm_config))
    assert isinstance(built, Tool)
    return built


def scripted(scripted_llm: ScriptedLLM, **by_schema: Callable[[dict[str, Any]], Any]) -> None:
    """Answer the named schemas with the given functions (dicts are dumped), the rest canned."""

    def script(request: dict[str, Any]) -> str:
        name = responders.schema_name(request)
        if name in by_schema:
            answer = by_schema[name](request)
            return answer if isinstance(answer, str) else json.dumps(answer)
        return responders.toolforge(request)

    scripted_llm.requests.clear()
    scripted_llm.script = script


def turns(*answers: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The assistant's answers, in order (the last one repeats)."""
    queue = list(answers)
    return lambda request: queue.pop(0) if len(queue) > 1 else queue[0]


def call(action: str, **action_input: Any) -> dict[str, Any]:
    return {"thought": f"I will call {action}.", "action": action, "action_input": action_input}


def finish(text: str = "Lisbon has 3 records.") -> dict[str, Any]:
    return {"thought": "I have what I need.", "action": "finish", "final_answer": text}


REQUESTS: dict[DialogType, str] = {
    "single": "Find records about Lisbon for me",
    "parallel": "Find records about Lisbon and about Porto",
    "dependent": "Find the record about Lisbon and show me its details",
    "non_tool": "What is a good way to spend a rainy weekend in Lisbon?",
    "multi_turn": "Find records about Lisbon, I will have more questions",
}


def instruction(kind: DialogType, **extra: Any) -> Instruction:
    return Instruction(
        instruction_id=f"atlas-{kind}",
        tool_id="atlas",
        dialog_type=kind,
        text=REQUESTS[kind],
        style="command",
        functions=[] if kind == "non_tool" else ["searchAtlas"],
        follow_ups=2 if kind == "multi_turn" else 0,
        **extra,
    )


def search_then_fetch(scripted_llm: ScriptedLLM, results: list[str]) -> None:
    """The assistant searches Lisbon, fetches `rec-77` (the first of the search's `results`) and
    answers; the executor answers the fetch only when its earlier search answer is remembered."""

    def executor(request: dict[str, Any]) -> dict[str, Any]:
        text = "\n".join(m["content"] for m in request["messages"])
        if "/records/rec-77" in text:
            assert "rec-77" in text.split("/records/rec-77")[0]  # the earlier answer is remembered
            return {"status_code": 200, "body": {"id": "rec-77", "title": "Lisbon", "details": "Capital"}}
        return {"status_code": 200, "body": {"results": results, "count": len(results)}}

    scripted(
        scripted_llm,
        AssistantTurn=turns(
            call("searchAtlas", query="Lisbon"),
            call("getAtlasRecord", recordId="rec-77"),
            finish("Record rec-77 is Lisbon, the capital."),
        ),
        ExecutorAnswer=executor,
    )
