"""OpenAI chat fine-tuning JSONL (https://platform.openai.com/docs/guides/supervised-fine-tuning):
one line per dialogue, `{"messages": [...], "tools": [...], "parallel_tool_calls": bool}`.

An assistant message with calls has `tool_calls: [{"id", "type": "function", "function": {"name",
"arguments": "<JSON text>"}}]` and no `content` (as OpenAI's function-calling example), followed by
one `{"role": "tool", "tool_call_id", "content"}` per call, its content the observation of the ReAct
text (`{"status_code": ..., "body": ...}`). A clarifying question and the user's reply are ordinary
assistant and user messages. The assistant's thought is left out of the chat formats (OpenAI, HF,
ShareGPT), which have no field every trainer reads it from; the ReAct export keeps it. The system
message names the API or APIs the assistant served the user with, as its own prompt did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agents.assistant.agent import offered_name
from agents.assistant.react_text import SYSTEM
from schemas.dialog import Dialog, Message, most_calls_in_a_message
from schemas.export import SPLITS, ExportFile, SplitName
from tasks.exports.files import write_jsonl
from tasks.exports.source import ExportSource, offered_tools

NOTES = [
    "The assistant's thoughts are left out (the react format keeps them); a tool message's content is "
    '`{"status_code", "body"}` as JSON text.',
]
"""What the export's summary says of the format."""
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
LINE_KEYS = {"messages", "tools", "parallel_tool_calls"}
MESSAGE_KEYS = {
    "system": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "weight"},
    "tool": {"role", "content", "tool_call_id"},
}


def system_prompt(source: ExportSource, dialog: Dialog) -> str:
    """The system message of `dialog` ("" when none of its tools is in the run's records)."""
    tools = source.tools_of(dialog)
    return SYSTEM.format(name=offered_name(tools)) if tools else ""


def tool_result(message: Message) -> str:
    """A tool message's content: the call's status code and response body, as JSON text."""
    return f'{{"status_code": {json.dumps(message.status_code)}, "body": {message.content or "null"}}}'


def openai_messages(dialog: Dialog, system: str = "") -> list[dict[str, Any]]:
    """The dialogue as OpenAI chat messages, after a system message when `system` is not empty."""
    chat: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in dialog.messages:
        if message.role == "assistant" and message.tool_calls:
            calls = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]
            chat.append({"role": "assistant", "tool_calls": calls})
        elif message.role == "tool":
            answer = tool_result(message)
            chat.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": answer})
        else:
            chat.append({"role": message.role, "content": message.content})
    return chat


def openai_line(dialog: Dialog, system: str = "") -> dict[str, Any]:
    """One line of the fine-tuning file."""
    return {
        "messages": openai_messages(dialog, system),
        "tools": offered_tools(dialog),
        "parallel_tool_calls": most_calls_in_a_message(dialog.messages) > 1,
    }


def read_calls(line: dict[str, Any]) -> list[tuple[str, Any]]:
    """The function calls of a line, in order, as (name, parsed arguments)."""
    return [
        (call["function"]["name"], json.loads(call["function"]["arguments"]))
        for message in line["messages"]
        if message["role"] == "assistant"
        for call in message.get("tool_calls") or []
    ]


def _tool_problems(tools: Any) -> tuple[list[str], set[str]]:
    if not isinstance(tools, list):
        return ["tools is not a list"], set()
    problems: list[str] = []
    names: set[str] = set()
    for number, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            problems.append(f"tool {number} is not {{'type': 'function', 'function': {{...}}}}")
            continue
        name = function.get("name")
        if not isinstance(name, str) or not FUNCTION_NAME.match(name):
            problems.append(f"tool {number} has no valid name: {name!r}")
        elif name in names:
            problems.append(f"tool {number}: {name} is offered twice")
        names.add(name if isinstance(name, str) else "")
        parameters = function.get("parameters", {"type": "object"})
        if not isinstance(parameters, dict) or parameters.get("type") != "object":
            problems.append(f"tool {name}: parameters are not a JSON schema of an object")
    return problems, names


def _call_problems(number: int, call: Any, names: set[str], seen: set[str]) -> list[str]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(call, dict) or call.get("type") != "function" or not isinstance(function, dict):
        return [f"message {number}: a call is not {{'type': 'function', 'function': {{...}}}}"]
    problems = []
    if not isinstance(call.get("id"), str) or not call["id"] or call["id"] in seen:
        problems.append(f"message {number}: call id {call.get('id')!r} is missing or not unique")
    if names and function.get("name") not in names:
        problems.append(f"message {number}: calls {function.get('name')!r}, which is not offered")
    try:
        arguments = json.loads(function.get("arguments"))
    except (TypeError, ValueError):
        arguments = None
    if not isinstance(arguments, dict):
        problems.append(f"message {number}: the arguments of {function.get('name')!r} are not a JSON object")
    return problems


def _message_problems(number: int, message: Any, names: set[str], seen: set[str]) -> list[str]:
    if not isinstance(message, dict) or message.get("role") not in MESSAGE_KEYS:
        return [f"message {number} has no valid role"]
    role = message["role"]
    problems = [f"message {number} ({role}) has key {k!r}" for k in sorted(set(message) - MESSAGE_KEYS[role])]
    content, calls = message.get("content"), message.get("tool_calls")
    if role == "assistant":
        if calls is not None and (not isinstance(calls, list) or not calls):
            problems.append(f"message {number}: tool_calls is not a non-empty list")
        if not calls and not isinstance(content, str):
            problems.append(f"message {number}: an assistant message needs content or tool_calls")
        if content is not None and not isinstance(content, str):
            problems.append(f"message {number}: content is not text")
        for call in calls if isinstance(calls, list) else []:
            problems += _call_problems(number, call, names, seen)
            seen.add(call.get("id") if isinstance(call, dict) else "")
    elif not isinstance(content, str) or (role == "user" and not content):
        problems.append(f"message {number} ({role}) has no text content")
    return problems


def openai_problems(line: dict[str, Any]) -> list[str]:
    """What breaks OpenAI's chat fine-tuning format in `line` (none: the line is valid).

    An optional system message first, then a user message; each assistant message's calls answered
    by tool messages with their ids before the next user or assistant message (the last message's may
    stay open, as in OpenAI's example), every tool message answering an open call; arguments that
    parse as JSON objects, of offered functions; well-formed tools; the last message the assistant's.
    """
    problems, names = _tool_problems(line.get("tools", []))
    problems += [f"unknown key {k!r}" for k in sorted(set(line) - LINE_KEYS)]
    if not isinstance(line.get("parallel_tool_calls", False), bool):
        problems.append("parallel_tool_calls is not a boolean")
    messages = line.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "messages is not a non-empty list"]
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    first = 1 if roles[0] == "system" else 0
    if "system" in roles[first:]:
        problems.append("a system message that is not the first")
    if len(roles) <= first or roles[first] != "user":
        problems.append("the first message after the system message is not the user's")
    if roles[-1] != "assistant":
        problems.append("the last message is not the assistant's")
    open_calls: list[str] = []
    seen: set[str] = set()
    for number, message in enumerate(messages):
        problems += _message_problems(number, message, names, seen)
        role = roles[number]
        if role == "tool":
            if message.get("tool_call_id") not in open_calls:
                problems.append(f"message {number}: answers no open call ({message.get('tool_call_id')!r})")
            else:
                open_calls.remove(message["tool_call_id"])
            continue
        if open_calls:
            problems.append(f"message {number}: calls {open_calls} are not answered before it")
            open_calls = []
        if role == "assistant":
            calls = message.get("tool_calls")
            calls = calls if isinstance(calls, list) else []
            open_calls = [c.get("id") for c in calls if isinstance(c, dict)]
            if len(open_calls) > 1 and line.get("parallel_tool_calls") is False:
                problems.append(f"message {number}: parallel calls with parallel_tool_calls false")
    return problems


def write(source: ExportSource, folder: Path) -> list[ExportFile]:
    """`train.jsonl` and `eval.jsonl` under `folder`."""

    def lines(split: SplitName) -> Iterator[dict[str, Any]]:
        for dialog in source.dialogs(split):
            yield openai_line(dialog, system_prompt(source, dialog))

    return [write_jsonl(folder, f"{split}.jsonl", lines(split), split) for split in SPLITS]
