"""The executor role: simulates one tool's HTTP answers, consistently within one simulated instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agents.executor.decoding import decoding_schema
from agents.llm.gateway import LLMGateway, Tally
from agents.llm.prompts import PromptTemplate, load_prompt
from schemas.calls import (
    CallError,
    HttpRequest,
    check_call,
    check_response,
    documented_statuses,
    error_answer,
    response_schema,
)
from schemas.simulation import ExecutorAnswer
from schemas.spec import nl_documentation, operation_by_name
from schemas.tool import Tool

ROLE = "executor"
STAGE = "simulation"
PROMPTS = Path(__file__).parent / "prompts"
MAX_TOKENS = 700
HISTORY_LIMIT = 12
"""Earlier exchanges shown to the model (the most recent ones)."""
BODY_CHARS = 3000
"""Characters of an earlier answer's body shown to the model."""


def respond_prompt() -> PromptTemplate:
    return load_prompt(PROMPTS / "respond.txt")


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 14] + " ...(clipped)"


class ToolExecutor:
    """The simulated API of one tool for one instance: it remembers what it answered."""

    def __init__(self, tool: Tool, gateway: LLMGateway) -> None:
        self.tool = tool
        self.gateway = gateway
        self.spec: dict[str, Any] = json.loads(tool.openapi)
        self._history: list[tuple[HttpRequest, ExecutorAnswer]] = []

    @property
    def history(self) -> list[tuple[HttpRequest, ExecutorAnswer]]:
        """(request, answer) for every simulated call so far, in order."""
        return list(self._history)

    def execute(self, function: str, action_input: Any, *, tally: Tally | None = None) -> ExecutorAnswer:
        """The API's answer to one call; a malformed call is refused without asking the model.

        StructuredOutputError when no simulated answer passes the checks after the gateway's repairs.
        """
        try:
            _, _, arguments, request = check_call(self.spec, function, action_input)
        except CallError as err:
            return error_answer(str(err))
        prompt = respond_prompt()
        messages = prompt.render(
            name=self.tool.name,
            introduction=self.tool.introduction or self.tool.description,
            function=function,
            documentation=self._documentation(function),
            responses=self._responses(function),
            history=self._render_history(),
            request=request.describe(),
            arguments=_compact(arguments),
        )
        answer = self.gateway.structured(
            stage=STAGE,
            role=ROLE,
            messages=messages,
            output=ExecutorAnswer,
            template=prompt.key,
            check=lambda a: check_response(self.spec, function, a),
            max_tokens=MAX_TOKENS,
            decoding_schema=decoding_schema(self.spec, function),
            tally=tally,
        )
        self._history.append((request, answer))
        return answer

    def _documentation(self, function: str) -> str:
        """The function's block of the NL documentation."""
        found = operation_by_name(self.spec, function)
        assert found is not None
        operation = {**found.operation, "operationId": found.name}  # the name it was called by
        single = {**self.spec, "paths": {found.path: {found.method.lower(): operation}}}
        return nl_documentation(single)

    def _responses(self, function: str) -> str:
        lines = []
        for status in documented_statuses(self.spec, function):
            schema = response_schema(self.spec, function, status)
            lines.append(f"{status}: {_compact(schema)}")
        return "\n".join(lines)

    def _render_history(self) -> str:
        if not self._history:
            return "(none yet)"
        shown = self._history[-HISTORY_LIMIT:]
        first = len(self._history) - len(shown) + 1
        return "\n".join(
            f"{n}. {request.describe()}\n   -> {answer.status_code} "
            + _clip(_compact(answer.body), BODY_CHARS)
            for n, (request, answer) in enumerate(shown, start=first)
        )
