"""`python -m flows.evaluate --eval <bfcl export> | bfcl:CATEGORY[,...] [--model M ...] [--answers FILE]`.

SOURCE is a folder of BFCL files (the `bfcl` export), scored by `schemas.call_accuracy`, or BFCL's
official test set in the installed bfcl-eval package (`bfcl:simple_python,irrelevance`, `bfcl:ast`;
`--limit` per category), scored by BFCL's own checker with BFCL's category names and its leaderboard
averages (`tasks/evaluation/bfcl_official.py`).

Each model answers each question once, `--concurrency` questions at a time (ReAct text read for its
actions, or its own function calls with `--prompt-format native`); its answers are written in BFCL's
result format (`answers/<model>/BFCL_v4_<category>_result.json`, `{"id", "result": [{function:
arguments}]}`) and scored against the folder's `possible_answer` files
(`tasks/evaluation/bfcl_set.py`). `--answers FILE` scores a result file made elsewhere (BFCL's own
harness, say) without asking any model. The evaluation's folder holds the answers,
`bfcl_scores.json` and `report.md`; accuracy per category and overall is printed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.assistant.react_text import STOP, parse_actions, parse_input, react_prompt_text
from agents.llm.errors import LLMCallError, StructuredOutputError
from agents.llm.gateway import LLMGateway, ToolAnswer, gateway_for
from flows.evaluation_common import EvaluateConfig, evaluation_folder, new_eval_id
from schemas.call_accuracy import Call, CallCheck
from schemas.simulation import ASK_USER
from tasks.evaluation import bfcl_official as official
from tasks.evaluation.bfcl_set import BfclQuestion, read_answers, read_bfcl, score_answers
from tasks.evaluation.play import EVALUATION_STAGE, REACT_TEMPLATE
from tasks.exports.files import atomic_file

OPENAI_TYPES = {"dict": "object", "float": "number", "tuple": "array"}


def openai_schema(schema: Any) -> Any:
    """A BFCL parameter schema with JSON Schema's type names (`any`: no type)."""
    if not isinstance(schema, dict):
        return schema
    converted = {k: openai_schema(v) if k in ("items",) else v for k, v in schema.items()}
    kind = schema.get("type")
    if kind == "any":
        converted.pop("type")
    elif isinstance(kind, str):
        converted["type"] = OPENAI_TYPES.get(kind, kind)
    if isinstance(schema.get("properties"), dict):
        converted["properties"] = {n: openai_schema(s) for n, s in schema["properties"].items()}
    return converted


def openai_tools(functions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """BFCL functions as OpenAI tools."""
    tools = []
    for function in functions:
        function = function.get("function", function)
        parameters = openai_schema(function.get("parameters") or {"type": "dict", "properties": {}})
        tools.append({"type": "function", "function": {**function, "parameters": parameters}})
    return tools


def react_calls(text: str) -> list[Call]:
    """The calls of a ReAct answer: every action before any observation, read leniently; text with no
    action (a final answer, or nothing readable) is no call, as BFCL reads output it cannot decode."""
    found: list[Call] = []
    for action, raw in parse_actions(text):
        arguments = parse_input(raw)
        if action and action != ASK_USER:
            found.append((action, arguments if isinstance(arguments, dict) else {}))
    return found


def answer_question(gateway: LLMGateway, question: BfclQuestion, native: bool, max_tokens: int) -> list[Call]:
    """One model's calls for one question (none where its answer holds none or failed)."""
    request = "\n".join(str(m.get("content", "")) for m in question.question if m.get("role") == "user")
    tools = openai_tools(question.functions)
    try:
        if native:

            def read(answer: ToolAnswer) -> list[Call]:
                return [(c.name, json.loads(c.arguments or "{}")) for c in answer.tool_calls]

            return gateway.with_tools(
                stage=EVALUATION_STAGE,
                role="assistant",
                messages=[{"role": "user", "content": request}],
                tools=tools,
                template="bfcl-native",
                read=read,
                tool_choice="auto",
                parallel_tool_calls=True,
                max_tokens=max_tokens,
            )
        documentation = "\n".join(
            f"{t['function']['name']}: {t['function'].get('description', '')} Parameters: "
            f"{json.dumps(t['function']['parameters'], ensure_ascii=False)}"
            for t in tools
        )
        names = [t["function"]["name"] for t in tools]
        prompt = react_prompt_text("offered", documentation, names, request)
        answer = gateway.complete(
            stage=EVALUATION_STAGE,
            role="assistant",
            messages=[{"role": "user", "content": prompt}],
            template=REACT_TEMPLATE,
            max_tokens=max_tokens,
            stop=STOP,
            cut_ok=True,
        )
        return react_calls(answer.content)
    except (StructuredOutputError, LLMCallError):
        return []


def result_lines(questions: Sequence[BfclQuestion], answers: dict[str, list[Call]]) -> dict[str, list[str]]:
    """BFCL result lines per category, the arguments as JSON text (BFCL's result format for a
    function-calling model, which its own runner decodes)."""
    by_category: dict[str, list[str]] = defaultdict(list)
    for question in questions:
        result = [{name: json.dumps(arguments)} for name, arguments in answers.get(question.id, [])]
        by_category[question.category].append(json.dumps({"id": question.id, "result": result}))
    return by_category


def accuracy(scored: Sequence[tuple[BfclQuestion, CallCheck]], overall: bool = True) -> dict[str, float]:
    """Accuracy per category (in the order of their questions; sorted by name with `overall`), and
    (with `overall`) over every question, last."""
    totals: dict[str, list[bool]] = defaultdict(list)
    for question, check in scored:
        totals[question.category].append(check.correct)
    if overall and scored:
        totals = {**dict(sorted(totals.items())), "overall": [check.correct for _, check in scored]}
    return {category: round(sum(v) / len(v), 4) for category, v in totals.items()}


def table(rows: dict[str, dict[str, float]], counts: dict[str, int]) -> str:
    """Models by row, the categories (their question counts) then the summaries by column."""
    columns = list(dict.fromkeys(c for scores in rows.values() for c in scores))
    head = ["model", *(f"{c} ({counts[c]})" if c in counts else c for c in columns)]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * len(columns) + "|"]
    for model, scores in rows.items():
        lines.append(f"| `{model}` | " + " | ".join(f"{100 * scores.get(c, 0):.1f}%" for c in columns) + " |")
    return "\n".join(lines)


def slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", model).strip("_") or "model"


class BfclSource(BaseModel):
    """What a BFCL evaluation scores: the questions, where they came from, and how it scores them."""

    questions: list[BfclQuestion]
    where: str = Field(description="The folder, or BFCL's version and package for its official set.")
    official: bool


def bfcl_source(config: EvaluateConfig) -> BfclSource:
    """BFCL's official set (`bfcl:...`, `--limit` per category) or a folder of BFCL files."""
    if official.is_official(config.source):
        names = official.categories(config.source)
        return BfclSource(
            questions=official.load_questions(names, config.limit), where=official.version(), official=True
        )
    source = Path(config.source).expanduser()
    return BfclSource(questions=read_bfcl(source), where=str(source.resolve()), official=False)


def scores(source: BfclSource, answers: dict[str, list[Call]], native: bool) -> dict[str, float]:
    """Accuracy per category; for BFCL's official set, by BFCL's checker and with BFCL's averages,
    else by `check_calls` and over every question."""
    if not source.official:
        return accuracy(score_answers(source.questions, answers))
    model = official.checker_model(native)
    scored = score_answers(source.questions, answers, lambda q, calls: official.check(q, calls, model))
    found = accuracy(scored, overall=False)
    counts = Counter(question.category for question in source.questions)
    return found | official.summaries({c: (a, counts[c]) for c, a in found.items()})


def run_bfcl(config: EvaluateConfig) -> str:
    """Ask each model (or read `config.answers`), score, write; the evaluation's folder."""
    source = bfcl_source(config)
    questions = source.questions
    native = config.play.prompt_format == "native"
    sha = hashlib.sha256(json.dumps([q.model_dump() for q in questions], sort_keys=True).encode()).hexdigest()
    eval_id = new_eval_id(sha, config)
    folder = evaluation_folder(config, eval_id)
    answers_by_model: dict[str, dict[str, list[Call]]] = {}
    if config.answers:
        answers_by_model[Path(config.answers).name] = read_answers(Path(config.answers).expanduser())
    else:
        asked = [official.offered(q, native) if source.official else q for q in questions]
        for model in config.models:
            gateway = gateway_for(config.model_llm(model), f"{eval_id}/{model}")
            tokens = config.play.step_tokens
            ask = functools.partial(answer_question, gateway, native=native, max_tokens=tokens)
            with ThreadPoolExecutor(max_workers=max(1, config.llm.concurrency)) as pool:
                answers_by_model[model] = dict(zip((q.id for q in asked), pool.map(ask, asked), strict=True))
    rows: dict[str, dict[str, float]] = {}
    for model, answers in answers_by_model.items():
        for category, lines in result_lines(questions, answers).items():
            with atomic_file(folder / "answers" / slug(model) / f"BFCL_v4_{category}_result.json") as handle:
                handle.write(("\n".join(lines) + "\n").encode())
        rows[model] = scores(source, answers, native)
    counts: dict[str, int] = dict(Counter(question.category for question in questions))
    counts["overall"] = len(questions)
    summary = {"eval_id": eval_id, "source": source.where, "source_sha256": sha, "accuracy": rows}
    with atomic_file(folder / "bfcl_scores.json") as handle:
        handle.write(json.dumps(summary, indent=2).encode())
    text = table(rows, counts)
    with atomic_file(folder / "report.md") as handle:
        handle.write(f"# BFCL evaluation {eval_id}\n\nSource: {source.where}\n\n{text}\n".encode())
    print(f"{source.where}\n{text}", file=sys.stderr)
    return str(folder)
