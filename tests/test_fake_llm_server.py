"""Tests of the fake OpenAI-compatible LLM server and its schema sampler (loopback only).

The server is exercised through litellm's real HTTP client, so these tests also pin which litellm
exception each injected fault turns into.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, HttpUrl, ValidationError

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import litellm  # after the cost map setting above

from bench.fake_llm_server import FakeLLMServer, default_responder, load_responder
from bench.schema_sampler import SchemaSampleError, sample_from_schema

litellm.suppress_debug_info = True
REPO_ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [
    {"role": "system", "content": "You write tool descriptions."},
    {"role": "user", "content": "Describe a weather API in three short fields."},
]


# -- models whose schemas the sampler must satisfy ----------------------------------------------------


class Parameter(BaseModel):
    """A function parameter: constrained name, Literal type, optional description."""

    name: str = Field(pattern=r"^[a-z][a-zA-Z0-9_]*$", min_length=1, max_length=64)
    type: Literal["string", "integer", "number", "boolean"]
    required: bool = True
    description: str | None = None


class Function(BaseModel):
    """A function: path pattern, list of nested models with bounds, constrained ints and floats."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    path: str = Field(pattern=r"^/")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    parameters: list[Parameter] = Field(min_length=1, max_length=8)
    timeout_ms: int = Field(ge=100, le=60_000, multiple_of=100)
    score: float = Field(gt=0, lt=1)
    docs: HttpUrl | None = None


class Catalog(BaseModel):
    """Top-level answer: nested lists of nested models, maps, tuples, sets and a short summary."""

    api: Annotated[str, Field(min_length=3, max_length=40)]
    functions: list[Function] = Field(min_length=2)
    tags: set[Literal["weather", "maps", "finance"]] = Field(min_length=2)
    limits: dict[str, int]
    version: tuple[int, int]
    owner: Parameter | None = None


class TreeNode(BaseModel):
    """A recursive model: the sampler must stop expanding it."""

    label: str
    children: list[TreeNode] = []
    parent: TreeNode | None = None


SAMPLED_MODELS: list[type[BaseModel]] = [Parameter, Function, Catalog, TreeNode]


def assert_valid_instance(instance: Any, schema: dict[str, Any]) -> None:
    """Fail unless `instance` validates against `schema` (with jsonschema when it is installed)."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - openapi-schema-validator brings jsonschema
        return
    jsonschema.Draft202012Validator(schema).validate(instance)


# -- fixtures and helpers ------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    """A fault-free server with no latency."""
    with FakeLLMServer() as running:
        yield running


def complete(server: FakeLLMServer, **kwargs: Any) -> Any:
    """One `litellm.completion` against `server`, without retries."""
    options: dict[str, Any] = {
        "model": "openai/fake-model",
        "api_base": server.base_url,
        "api_key": "sk-test",
        "messages": MESSAGES,
        "num_retries": 0,
    }
    options.update(kwargs)
    return litellm.completion(**options)


def schema_format(model: type[BaseModel]) -> dict[str, Any]:
    """A `response_format` asking for `model`'s JSON schema."""
    return {
        "type": "json_schema",
        "json_schema": {"name": model.__name__, "schema": model.model_json_schema()},
    }


def http(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, parsed JSON body) of a GET (or a POST of `body`) with urllib."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def echo_responder(body: dict[str, Any]) -> str:
    """A custom responder that echoes the model and the last message."""
    return f"echo {body['model']}: {body['messages'][-1]['content']}"


# -- through litellm ---------------------------------------------------------------------------------


def test_json_schema_answer_validates_with_the_pydantic_model(server: FakeLLMServer) -> None:
    response = complete(server, response_format=schema_format(Catalog))

    catalog = Catalog.model_validate_json(response.choices[0].message.content)
    assert len(catalog.functions) >= 2
    assert response.choices[0].finish_reason == "stop"
    assert response.model.endswith("fake-model")
    assert response.usage.prompt_tokens == sum(len(m["content"].split()) for m in MESSAGES)
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert server.stats() == {
        "requests": 1,
        "completions": 1,
        "rejected": 0,
        "peak_in_flight": 1,
        "faults": {"429": 0, "500": 0, "timeout": 0, "malformed": 0},
        "limited": 0,
    }


def test_json_schema_answer_is_deterministic_per_conversation(server: FakeLLMServer) -> None:
    first = complete(server, response_format=schema_format(Function)).choices[0].message.content
    again = complete(server, response_format=schema_format(Function)).choices[0].message.content
    other = (
        complete(
            server, response_format=schema_format(Function), messages=[{"role": "user", "content": "another"}]
        )
        .choices[0]
        .message.content
    )

    assert first == again
    assert first != other


def test_plain_request_gets_text(server: FakeLLMServer) -> None:
    content = complete(server).choices[0].message.content

    assert content.startswith("This is a fake answer")


def test_custom_responder_is_used() -> None:
    with FakeLLMServer(responder=echo_responder) as server:
        response = complete(server, messages=[{"role": "user", "content": "ping"}])

    assert response.choices[0].message.content == "echo fake-model: ping"


def test_responder_loads_by_dotted_path() -> None:
    assert load_responder("tests.test_fake_llm_server:echo_responder") is echo_responder
    assert load_responder("bench.fake_llm_server.default_responder") is default_responder


@pytest.mark.parametrize(
    ("kind", "error"),
    [("429", litellm.RateLimitError), ("500", litellm.InternalServerError), ("timeout", litellm.Timeout)],
)
def test_fault_raises_litellm_error(kind: str, error: type[Exception]) -> None:
    with FakeLLMServer(fault_rate=1.0, fault_kinds=[kind], timeout_s=3.0) as server:
        started = time.perf_counter()
        with pytest.raises(error) as raised:
            complete(server, response_format=schema_format(Parameter), timeout=0.5)
        elapsed = time.perf_counter() - started
        faults = server.faults

    assert type(raised.value) is error
    assert faults[kind] >= 1
    assert elapsed < 2.5


def test_malformed_fault_returns_truncated_json() -> None:
    with FakeLLMServer(fault_rate=1.0, fault_kinds=["malformed"]) as server:
        response = complete(server, response_format=schema_format(Catalog))
        faults = server.faults

    content = response.choices[0].message.content
    assert content
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)
    assert faults["malformed"] == 1


def test_fault_rate_is_seeded_and_partial() -> None:
    def run(seed: int) -> dict[str, int]:
        with FakeLLMServer(fault_rate=0.5, fault_kinds=["500", "malformed"], seed=seed) as server:
            for _ in range(40):
                http(f"{server.base_url}/chat/completions", {"model": "m", "messages": MESSAGES})
            return server.faults

    first, again = run(7), run(7)

    assert first == again
    assert 0 < first["500"] + first["malformed"] < 40


def test_concurrent_requests_overlap() -> None:
    with FakeLLMServer(latency_s=0.2) as server:
        complete(server)  # warm litellm's client before timing
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=32) as pool:
            responses = list(pool.map(lambda _: complete(server, timeout=10), range(32)))
        elapsed = time.perf_counter() - started
        completions, peak = server.completions, server.peak_in_flight

    assert all(r.choices[0].message.content for r in responses)
    assert completions == 33
    assert 1 < peak <= 32, "the server keeps the most requests under way at once"
    assert elapsed < 2.5, f"32 requests at 0.2 s latency took {elapsed:.2f} s"


# -- raw HTTP --------------------------------------------------------------------------------------------


def test_health_and_models(server: FakeLLMServer) -> None:
    assert http(f"{server.url}/health")[::2] == (200, {"status": "ok"})
    status, _, models = http(f"{server.base_url}/models")
    assert status == 200
    assert [m["id"] for m in models["data"]] == ["fake-model"]


def test_stream_and_bad_requests_are_rejected(server: FakeLLMServer) -> None:
    url = f"{server.base_url}/chat/completions"

    streamed = http(url, {"model": "m", "messages": MESSAGES, "stream": True})
    no_messages = http(url, {"model": "m"})
    unknown = http(f"{server.base_url}/completions", {"model": "m", "prompt": "x"})

    assert streamed[0] == 400
    assert streamed[2]["error"]["type"] == "invalid_request_error"
    assert no_messages[0] == 400
    assert unknown[0] == 404
    assert server.rejected == 3
    assert server.completions == 0


def test_429_carries_retry_after() -> None:
    with FakeLLMServer(fault_rate=1.0, fault_kinds=["429"]) as server:
        status, headers, body = http(
            f"{server.base_url}/chat/completions", {"model": "m", "messages": MESSAGES}
        )

    assert status == 429
    assert headers["Retry-After"] == "0"
    assert body["error"]["type"] == "rate_limit_error"


def test_completion_object_shape(server: FakeLLMServer) -> None:
    status, _, body = http(
        f"{server.base_url}/chat/completions",
        {"model": "my-model", "messages": [{"role": "user", "content": "a b c"}]},
    )

    assert status == 200
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "my-model"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 3


def test_stop_wakes_sleeping_timeout_requests() -> None:
    server = FakeLLMServer(fault_rate=1.0, fault_kinds=["timeout"], timeout_s=30.0).start()
    with pytest.raises(litellm.Timeout):
        complete(server, timeout=0.3)
    started = time.perf_counter()
    server.stop()

    assert time.perf_counter() - started < 2.0


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FakeLLMServer(fault_kinds=["503"])
    with pytest.raises(ValueError, match="fault_rate"):
        FakeLLMServer(fault_rate=1.5)


def test_cli_prints_base_url_and_stops_on_sigterm() -> None:
    command = [sys.executable, "-m", "bench.fake_llm_server", "--port", "0", "--latency", "0", "--seed", "0"]
    command += ["--responder", "json:dumps"]  # a stdlib callable: the answer is the request body
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        request = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        status, _, body = http(f"{base_url}/chat/completions", request)
        assert status == 200
        assert json.loads(body["choices"][0]["message"]["content"]) == request
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0


# -- the schema sampler ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", SAMPLED_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("seed", range(5))
def test_sampler_builds_valid_instances(model: type[BaseModel], seed: int) -> None:
    schema = model.model_json_schema()

    instance = sample_from_schema(schema, rng=random.Random(seed))

    assert_valid_instance(instance, schema)
    model.model_validate(instance)


def test_sampler_is_deterministic_and_text_like() -> None:
    schema = Catalog.model_json_schema()

    first = sample_from_schema(schema, rng=random.Random(3))
    again = sample_from_schema(schema, rng=random.Random(3))

    assert first == again
    assert first["api"].startswith("sample api")
    assert first["functions"][0]["path"].startswith("/")
    assert first["owner"] is not None  # optional fields are filled


def test_sampler_stops_recursion() -> None:
    instance = sample_from_schema(TreeNode.model_json_schema(), rng=random.Random(0))

    assert TreeNode.model_validate(instance).children[0].children == []


@pytest.mark.parametrize(
    ("schema", "check"),
    [
        ({"type": "string", "pattern": "^[a-z][a-zA-Z0-9_]*$"}, r"^[a-z][a-zA-Z0-9_]*$"),
        ({"type": "string", "pattern": "^/"}, r"^/.*"),
        ({"type": "string", "pattern": r"^[A-Z]{3}-\d{4}$"}, r"^[A-Z]{3}-\d{4}$"),
        ({"type": "string", "pattern": "^(GET|POST)$"}, r"^(GET|POST)$"),
        ({"type": "string", "pattern": "^[a-z]+$", "minLength": 30, "maxLength": 40}, r"^[a-z]{30,40}$"),
        ({"type": "string", "pattern": "^x", "maxLength": 3}, r"^x.{0,2}$"),
    ],
)
def test_sampler_honours_patterns(schema: dict[str, Any], check: str) -> None:
    value = sample_from_schema(schema, rng=random.Random(0), path="field")

    assert_valid_instance(value, schema)
    assert re.fullmatch(check, value)


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer", "minimum": 5, "maximum": 5}, 5),
        ({"type": "integer", "exclusiveMinimum": 4, "exclusiveMaximum": 6}, 6 - 1),
        ({"const": "fixed"}, "fixed"),
        ({"anyOf": [{"type": "null"}, {"type": "boolean", "const": True}]}, True),
        ({"allOf": [{"properties": {"a": {"const": 1}}, "required": ["a"]}], "type": "object"}, {"a": 1}),
        ({"type": "array", "items": {"const": 0}, "maxItems": 0}, []),
        ({"type": "array", "items": {"const": 0}, "minItems": 3}, [0, 0, 0]),
        ({"default": "kept"}, "kept"),
    ],
)
def test_sampler_keywords(schema: dict[str, Any], expected: Any) -> None:
    assert sample_from_schema(schema, rng=random.Random(0)) == expected


def test_sampler_explains_what_it_cannot_do() -> None:
    with pytest.raises(SchemaSampleError, match="maxLength"):
        sample_from_schema({"type": "string", "minLength": 5, "maxLength": 2}, rng=random.Random(0))
    with pytest.raises(SchemaSampleError, match="does not resolve"):
        sample_from_schema({"$ref": "#/$defs/Missing"}, rng=random.Random(0))
    with pytest.raises(SchemaSampleError, match="pattern"):
        sample_from_schema(
            {"type": "string", "pattern": "^a$", "minLength": 2}, rng=random.Random(0), path="x"
        )
    with pytest.raises(SchemaSampleError, match="no integer"):
        sample_from_schema({"type": "integer", "minimum": 3, "maximum": 2}, rng=random.Random(0))


def test_pydantic_rejects_a_broken_sample() -> None:
    """Sanity check that validation in these tests has teeth."""
    instance = sample_from_schema(Function.model_json_schema(), rng=random.Random(0))
    instance["timeout_ms"] = 150

    with pytest.raises(ValidationError):
        Function.model_validate(instance)


# -- provider limits ---------------------------------------------------------------------------------


def test_rpm_limit_answers_429_with_retry_after_and_headers() -> None:
    with FakeLLMServer(rpm=3, ratelimit_headers=True) as server:
        answers = [
            http(f"{server.base_url}/chat/completions", {"model": "m", "messages": MESSAGES})
            for _ in range(5)
        ]
        stats = server.stats()

    assert [status for status, _, _ in answers] == [200, 200, 200, 429, 429]
    first, refused = answers[0][1], answers[3][1]
    assert first["x-ratelimit-limit-requests"] == "3"
    assert first["x-ratelimit-remaining-requests"] == "2"
    assert first["x-ratelimit-reset-requests"].endswith("s")
    assert refused["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert 0 < int(refused["retry-after-ms"]) <= 60_000
    assert answers[3][2]["error"]["type"] == "rate_limit_error"
    assert stats["limited"] == 2 and stats["completions"] == 3


def test_tpm_limit_counts_prompt_and_completion_words() -> None:
    words = default_responder({"model": "m", "messages": MESSAGES}).split()
    prompt = sum(len(m["content"].split()) for m in MESSAGES)
    with FakeLLMServer(tpm=2 * (prompt + len(words)) + 1, ratelimit_headers=True) as server:
        answers = [
            http(f"{server.base_url}/chat/completions", {"model": "m", "messages": MESSAGES})
            for _ in range(3)
        ]

    assert [status for status, _, _ in answers] == [200, 200, 429]
    assert answers[0][2]["usage"]["total_tokens"] == prompt + len(words)
    assert answers[1][1]["x-ratelimit-remaining-tokens"] == "1"
    assert "x-ratelimit-limit-requests" not in answers[1][1]


def test_no_ratelimit_headers_unless_asked() -> None:
    with FakeLLMServer(rpm=10) as server:
        status, headers, _ = http(f"{server.base_url}/chat/completions", {"model": "m", "messages": MESSAGES})

    assert status == 200
    assert not any(name.lower().startswith("x-ratelimit") for name in headers)


def test_rate_window_frees_as_entries_age() -> None:
    from bench.fake_llm_server import RateWindow

    window = RateWindow(10, 60.0)
    window.add(0.0, 6)
    window.add(30.0, 4)
    assert window.wait(31.0, 1) == pytest.approx(29.0)  # the 6 at t=0 leave at t=60
    assert window.wait(31.0, 7) == pytest.approx(59.0)  # needs the 4 at t=30 gone too
    assert window.wait(60.5, 6) == 0.0
    assert window.remaining(60.5) == 6
    assert window.reset(60.5) == pytest.approx(29.5)


def test_saturating_server_slows_with_calls_in_flight() -> None:
    server = FakeLLMServer(latency_s=0.5, saturate=4)
    assert server.latency_for(0) == 0.5
    assert server.latency_for(4) == 1.0
    assert server.latency_for(8) == 1.5
    assert FakeLLMServer(latency_s=0.5).latency_for(100) == 0.5
    with server:
        with ThreadPoolExecutor(4) as pool:
            started = time.monotonic()
            statuses = list(
                pool.map(
                    lambda _: http(
                        f"{server.base_url}/chat/completions", {"model": "m", "messages": MESSAGES}
                    )[0],
                    range(4),
                )
            )
        took = time.monotonic() - started
    assert statuses == [200] * 4
    assert took >= 0.5  # at least the base latency; the later arrivals waited longer


def test_limits_must_be_positive() -> None:
    for option in ({"rpm": 0}, {"tpm": -1}, {"saturate": 0}):
        with pytest.raises(ValueError, match="must be positive"):
            FakeLLMServer(**option)
