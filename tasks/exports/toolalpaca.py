"""The corpus as ToolAlpaca's own JSON: `train.json` and `eval.json`, each a list of tools.

A tool has an entry in a split's file when it has dialogues on that side (a dialogue belongs to its
`tool_id`): its documentation (`Name`, `Description`, `Link`, `Category`, `Introduction`,
`Documentation` (the OpenAPI spec as JSON text), `NLDocumentation`, `Function_Description`,
`Function_Projection`), then four lists aligned one to one: `Instructions`, `Golden_Answers` (the
API calls as `{"Action", "Action_Input"}`; a clarifying question is none, as in ToolAlpaca's
evaluation data), `Instances` (what ToolAlpaca's generation writes and its `build_dataset.py`
reads: `input`, `output`, `Final Thought`, and `intermediate_steps` as `[[action, action input,
log], observation]`, a clarifying question as a `getDetails` step) and `Dialog_Ids` (an addition
ToolAlpaca's scripts ignore: the dialogue of each instruction).

ToolAlpaca has one request per instance, so a multi-turn dialogue gives one instruction per turn;
a later turn's instruction is the conversation so far in ToolAlpaca's transcript form
(`[User]: ...`, `[AI]: ...`), ending in that turn's request. A dialogue offered several tools may
call functions of the others: its actions then name functions its entry does not document. Each
file is one JSON document, built in memory one split at a time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.dialog import Dialog, Message, ToolCall, calls, final_answer, request_spans
from schemas.export import SPLITS, ExportFile
from schemas.react import react_steps
from schemas.simulation import ASK_USER
from schemas.spec import nl_documentation, operations
from schemas.tool import Tool
from tasks.exports.files import write_json
from tasks.exports.source import ExportSource

NOTES = [
    "ToolAlpaca: one instruction per turn; a multi-turn dialogue's later turns carry the conversation "
    "so far ([User]/[AI] lines) in their instruction, and Dialog_Ids names each instruction's dialogue."
]


def function_projection(tool: Tool) -> dict[str, list[str]]:
    """Each function's place in the spec: name -> [path, lowercase method]."""
    return {route.name: [route.path, route.method.lower()] for route in tool.routes}


def function_descriptions(tool: Tool) -> dict[str, str]:
    """Each function's text documentation (its `NLDocumentation` block without the name), plus
    ToolAlpaca's `components` (empty: the spec's components are inlined in the blocks)."""
    spec = json.loads(tool.openapi) if tool.openapi else {}
    described: dict[str, str] = {}
    for op in operations(spec):
        one = {**spec, "paths": {op.path: {op.method.lower(): {**op.operation, "operationId": op.name}}}}
        described[op.name] = nl_documentation(one).removeprefix(f"{op.name}: ")
    return {**described, "components": ""}


def tool_entry(tool: Tool) -> dict[str, Any]:
    """A tool's ToolAlpaca entry, its instructions still empty."""
    return {
        "Name": tool.name,
        "Description": tool.description,
        "Link": tool.link,
        "Category": tool.category,
        "Introduction": tool.introduction,
        "Documentation": tool.openapi,
        "NLDocumentation": tool.nl_documentation,
        "Function_Description": function_descriptions(tool),
        "Function_Projection": function_projection(tool),
        "Instructions": [],
        "Golden_Answers": [],
        "Instances": [],
        "Dialog_Ids": [],
    }


def unknown(tool_id: str) -> Tool:
    """A tool the run does not list: its id as its name, no documentation."""
    fields = ("category", "description", "link", "introduction", "openapi", "nl_documentation")
    return Tool.model_construct(tool_id=tool_id, name=tool_id, routes=[], **dict.fromkeys(fields, ""))


def transcript(messages: list[Message]) -> list[str]:
    """The conversation as ToolAlpaca's `[User]: ...` / `[AI]: ...` lines (the calls left out)."""
    return [
        f"[User]: {m.content}" if m.role == "user" else f"[AI]: {m.content}"
        for m in messages
        if m.role == "user" or (m.role == "assistant" and not m.tool_calls)
    ]


def intermediate_steps(part: list[Message]) -> list[list[Any]]:
    """A turn's steps as `[[action, action input, log], observation]`: the log is the LangChain
    agent's text after `Thought:`, the observation ToolAlpaca's `Status Code: N. Response: ...`
    (for `getDetails`, the user's reply)."""
    results = {m.tool_call_id: m for m in part if m.role == "tool"}
    made = iter(calls(part))
    steps: list[list[Any]] = []
    for step in react_steps(part):
        if step.action == ASK_USER:
            observation = step.observation or ""
        else:
            result = results.get(next(made).id)
            observation = (
                "" if result is None else f"Status Code: {result.status_code}. Response: {result.content}"
            )
        log = f" {step.thought}\nAction: {step.action}\nAction Input: {step.action_input}"
        steps.append([[step.action, step.action_input, log], observation])
    return steps


def turn_records(dialog: Dialog) -> list[tuple[str, list[dict[str, str]], dict[str, Any]]]:
    """(instruction, golden answers, instance) for each turn of the dialogue, in order."""
    messages = dialog.messages
    records = []
    for number, (start, end) in enumerate(request_spans(messages)):
        part = messages[start:end]
        request = messages[start].content
        instruction = "\n".join(transcript(messages[: start + 1])) if number else request
        final = final_answer(part) or Message(role="assistant")
        golden = [{"Action": call.name, "Action_Input": call.arguments} for call in calls(part)]
        instance = {
            "input": instruction,
            "output": final.content,
            "Final Thought": final.thought,
            "intermediate_steps": intermediate_steps(part),
        }
        records.append((instruction, golden, instance))
    return records


def write(source: ExportSource, folder: Path) -> list[ExportFile]:
    """`train.json` and `eval.json`, each written (an empty list when its side has no dialogue); a
    file's rows are its tools."""
    files = []
    for split in SPLITS:
        entries: dict[str, dict[str, Any]] = {}
        for dialog in source.dialogs(split):
            if dialog.tool_id not in entries:
                entries[dialog.tool_id] = tool_entry(
                    source.tools.get(dialog.tool_id) or unknown(dialog.tool_id)
                )
            entry = entries[dialog.tool_id]
            for instruction, golden, instance in turn_records(dialog):
                entry["Instructions"].append(instruction)
                entry["Golden_Answers"].append(golden)
                entry["Instances"].append(instance)
                entry["Dialog_Ids"].append(dialog.dialog_id)
        listed = [entries[tool_id] for tool_id in sorted(entries)]
        files.append(write_json(folder, f"{split}.json", listed, len(listed), split))
    return files


def read_calls(path: Path) -> dict[str, list[tuple[str, Any]]]:
    """The API calls of each dialogue of a written file, from its `Golden_Answers` (turns joined in
    order): what `calls_of` gives for the dialogue."""
    found: dict[str, list[tuple[str, Any]]] = {}
    for entry in json.loads(path.read_text(encoding="utf-8")):
        for dialog_id, golden in zip(entry["Dialog_Ids"], entry["Golden_Answers"], strict=True):
            made = found.setdefault(dialog_id, [])
            for answer in golden:
                call = ToolCall(id="", name=answer["Action"], arguments=answer["Action_Input"])
                made.append((call.name, call.parsed_arguments()))
    return found
