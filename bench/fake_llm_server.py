"""A local, OpenAI-compatible fake LLM server for tests and benchmarks (standard library only).

`FakeLLMServer` answers `POST /v1/chat/completions` (non-streaming) with a well-formed
`chat.completion` object after a configurable latency, and can inject faults at a given rate:
HTTP 429 and 500 errors, answers that arrive too late ("timeout") and truncated JSON content
("malformed"). The default answer for a request with a JSON-schema `response_format` is a valid
instance of that schema (see `bench.schema_sampler`); any other request gets a short plain text. A
responder may also answer with a message of `tool_calls` (for requests with `tools`).
`GET /v1/models` lists the served model names and `GET /health` answers at once.

It can also behave like a provider with limits: `rpm` and `tpm` cap the requests and the tokens (prompt
plus completion, counted in words) of the last 60 seconds, answering any request over a cap at once
with HTTP 429 and `Retry-After` (the seconds until enough of the window frees); with
`ratelimit_headers` every answer carries OpenAI's `x-ratelimit-limit|remaining|reset-requests|tokens`
headers. And like a saturated vLLM server: with `saturate` K, a request's latency is the configured one
times `1 + n / K`, n being the other completions in flight when it arrived.

Run it on its own with::

    python -m bench.fake_llm_server --port 8011 --latency 0.2 --fault-rate 0.1 \\
        --fault-kinds 429,500,timeout,malformed --timeout 5 --seed 0 [--responder module:function] \\
        [--rpm 600] [--tpm 100000] [--ratelimit-headers] [--saturate 16]

It prints its base URL (for `api_base`) as its first line and serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import math
import random
import signal
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any

from bench.schema_sampler import sample_from_schema

__all__ = ["FAULT_KINDS", "FakeLLMServer", "Responder", "default_responder", "main"]

FAULT_KINDS: tuple[str, ...] = ("429", "500", "timeout", "malformed")
"""The faults the server can inject, in the spelling of `fault_kinds` and `--fault-kinds`."""

Reply = str | dict[str, Any]
"""An assistant message's content, or the message itself: `{"content": ..., "tool_calls": [...]}`
(OpenAI's shape: each call `{"id", "type": "function", "function": {"name", "arguments"}}`)."""
Responder = Callable[[dict[str, Any]], Reply]
"""Given the parsed body of a chat completion request, the assistant's answer."""

_MAX_BODY_BYTES = 64 * 1024 * 1024


class FakeLLMServer:
    """An OpenAI-compatible chat completion server on a background thread, with injectable faults.

    Use `start()`/`stop()` or `with FakeLLMServer(...) as server:`; point clients at `base_url`.
    The counters `requests`, `completions`, `rejected` and `faults` are safe to read while it runs.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] = FAULT_KINDS,
        timeout_s: float = 30.0,
        seed: int | None = None,
        responder: Responder | None = None,
        models: Sequence[str] = ("fake-model",),
        rpm: int | None = None,
        tpm: int | None = None,
        ratelimit_headers: bool = False,
        saturate: float | None = None,
        limit_window_s: float = 60.0,
    ) -> None:
        """Configure (not start) a server.

        `latency_s` is slept before answering each `/v1/...` request (faults included);
        `fault_rate` (0..1) is the chance that a chat completion gets a fault, drawn uniformly from
        `fault_kinds`; a "timeout" fault sleeps `timeout_s` before answering normally; `seed` seeds
        the fault draws; `responder` replaces `default_responder`; `models` is what `/v1/models` lists.
        `rpm`, `tpm`, `ratelimit_headers` and `saturate` are the provider's limits (see the module);
        `limit_window_s` shortens the window of `rpm` and `tpm`, so that a test need not wait minutes.
        """
        kinds = tuple(fault_kinds)
        unknown = sorted(set(kinds) - set(FAULT_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; choose from {list(FAULT_KINDS)}")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be within [0, 1], not {fault_rate}")
        if fault_rate > 0 and not kinds:
            raise ValueError("fault_rate > 0 needs at least one fault kind")
        if latency_s < 0 or timeout_s < 0:
            raise ValueError("latency_s and timeout_s must not be negative")
        for name, limit in (("rpm", rpm), ("tpm", tpm), ("saturate", saturate)):
            if limit is not None and limit <= 0:
                raise ValueError(f"{name} must be positive, not {limit}")
        self.host = host
        self.requested_port = port
        self.latency_s = latency_s
        self.fault_rate = fault_rate
        self.fault_kinds = kinds
        self.timeout_s = timeout_s
        self.responder: Responder = responder or default_responder
        self.models = tuple(models)
        self.saturate = saturate
        self.ratelimit_headers = ratelimit_headers
        self.windows = {
            kind: RateWindow(limit, limit_window_s)
            for kind, limit in (("requests", rpm), ("tokens", tpm))
            if limit is not None
        }
        self._fault_rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests = 0
        self._completions = 0
        self._rejected = 0
        self._in_flight = 0
        self._peak_in_flight = 0
        self._faults: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        self._limited = 0
        self._httpd: _FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        """Bind the socket and serve on a daemon thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("FakeLLMServer is already running")
        self._stopping.clear()
        httpd = _FakeHTTPServer((self.host, self.requested_port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-llm-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake requests that are still sleeping, and close the socket."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port actually bound (useful when the requested port was 0)."""
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The server root, such as `http://127.0.0.1:8011`."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL to pass as `api_base`, such as `http://127.0.0.1:8011/v1`."""
        return f"{self.url}/v1"

    # -- counters --------------------------------------------------------------------------------

    @property
    def requests(self) -> int:
        """HTTP requests received, on every path."""
        with self._lock:
            return self._requests

    @property
    def completions(self) -> int:
        """Chat completions answered with HTTP 200 (late "timeout" and "malformed" ones included)."""
        with self._lock:
            return self._completions

    @property
    def rejected(self) -> int:
        """Requests answered with a 4xx for being invalid (bad JSON, `stream: true`, unknown path)."""
        with self._lock:
            return self._rejected

    @property
    def peak_in_flight(self) -> int:
        """The most chat completions under way at once (received, not yet answered)."""
        with self._lock:
            return self._peak_in_flight

    @property
    def limited(self) -> int:
        """Chat completions refused with 429 for being over `rpm` or `tpm` (not injected faults)."""
        with self._lock:
            return self._limited

    @property
    def faults(self) -> dict[str, int]:
        """Injected faults by kind ("429", "500", "timeout", "malformed"): a snapshot."""
        with self._lock:
            return dict(self._faults)

    def stats(self) -> dict[str, Any]:
        """A consistent snapshot of all counters."""
        with self._lock:
            return {
                "requests": self._requests,
                "completions": self._completions,
                "rejected": self._rejected,
                "peak_in_flight": self._peak_in_flight,
                "faults": dict(self._faults),
                "limited": self._limited,
            }

    def reset_counters(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._requests = self._completions = self._rejected = self._peak_in_flight = 0
            self._limited = 0
            self._faults = dict.fromkeys(FAULT_KINDS, 0)

    # -- used by the request handler ---------------------------------------------------------------

    def count(self, counter: str) -> None:
        """Add one to `requests`, `completions` or `rejected`."""
        with self._lock:
            setattr(self, f"_{counter}", getattr(self, f"_{counter}") + 1)

    def entered(self, change: int) -> int:
        """A chat completion started (+1) or was answered (-1): keeps the peak of those under way;
        the number of the others under way."""
        with self._lock:
            self._in_flight += change
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            return self._in_flight - max(change, 0)

    def latency_for(self, others: int) -> float:
        """The latency of a completion that arrived while `others` were in flight (`saturate`)."""
        if self.saturate is None:
            return self.latency_s
        return self.latency_s * (1 + others / self.saturate)

    def admit(self, tokens: int) -> tuple[float, dict[str, str]]:
        """(0, headers) when a completion of `tokens` fits `rpm` and `tpm` now (and is counted), else
        (seconds until it would, headers); the headers are the `x-ratelimit-*` ones when asked for."""
        now = time.monotonic()
        amounts = {"requests": 1, "tokens": tokens}
        with self._lock:
            wait = max((w.wait(now, amounts[kind]) for kind, w in self.windows.items()), default=0.0)
            if wait > 0:
                self._limited += 1
            else:
                for kind, window in self.windows.items():
                    window.add(now, amounts[kind])
            headers: dict[str, str] = {}
            if self.ratelimit_headers:
                for kind, window in self.windows.items():
                    headers[f"x-ratelimit-limit-{kind}"] = str(window.limit)
                    headers[f"x-ratelimit-remaining-{kind}"] = str(window.remaining(now))
                    headers[f"x-ratelimit-reset-{kind}"] = f"{window.reset(now):.3f}s"
        return wait, headers

    def draw_fault(self) -> str | None:
        """The fault to inject into the next chat completion, if any (counted as injected)."""
        with self._lock:
            if self.fault_rate <= 0 or self._fault_rng.random() >= self.fault_rate:
                return None
            kind = self._fault_rng.choice(self.fault_kinds)
            self._faults[kind] += 1
            return kind

    def sleep(self, seconds: float) -> bool:
        """Sleep without holding any lock; False if the server was stopped meanwhile."""
        if seconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(seconds)


class RateWindow:
    """What was admitted in the last `window_s` seconds, against a limit (requests or tokens)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._log: deque[tuple[float, int]] = deque()
        self._used = 0

    def _expire(self, now: float) -> None:
        while self._log and self._log[0][0] <= now - self.window_s:
            self._used -= self._log.popleft()[1]

    def wait(self, now: float, amount: int) -> float:
        """Seconds until `amount` more fits the window (0: it fits now). An amount over the whole limit
        waits for an empty window."""
        self._expire(now)
        excess = self._used + min(amount, self.limit) - self.limit
        if excess <= 0:
            return 0.0
        for at, spent in self._log:
            excess -= spent
            if excess <= 0:
                return at + self.window_s - now
        return self.window_s

    def add(self, now: float, amount: int) -> None:
        self._log.append((now, amount))
        self._used += amount

    def remaining(self, now: float) -> int:
        self._expire(now)
        return max(0, self.limit - self._used)

    def reset(self, now: float) -> float:
        """Seconds until the window is empty again."""
        self._expire(now)
        return self._log[-1][0] + self.window_s - now if self._log else 0.0


class _FakeHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server tuned for many concurrent, mostly sleeping, requests."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True
    fake: FakeLLMServer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection (so `close_connections` can end it), then serve it on a thread."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget and close a connection its handler is done with."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection (idle keep-alive ones included), waking their threads."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def server_bind(self) -> None:
        """Bind without `HTTPServer`'s reverse DNS lookup of the host name (slow without a resolver)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away (a timed-out client); report anything else on stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """One connection's requests: routes them and writes OpenAI-style JSON answers."""

    server: _FakeHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "FakeLLM/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing per request."""

    def do_GET(self) -> None:
        """`/health` and `/stats` (the counters; `/stats?reset` zeroes them after answering) at once;
        `/v1/models` after the latency; 404 otherwise."""
        fake = self.server.fake
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/stats":  # not counted as a request: a benchmark reads it between runs
            self.send_json(HTTPStatus.OK, fake.stats())
            if "reset" in self.path.partition("?")[2]:  # /stats?reset: then start counting afresh
                fake.reset_counters()
            return
        fake.count("requests")
        if path == "/health":
            self.send_json(HTTPStatus.OK, {"status": "ok"})
        elif path in ("/v1/models", "/models"):
            if fake.sleep(fake.latency_s):
                self.send_json(HTTPStatus.OK, _models_body(fake.models))
            else:
                self.close_connection = True
        else:
            self.reject(HTTPStatus.NOT_FOUND, f"unknown path {self.path}", read_body=False)

    def do_POST(self) -> None:
        """`/v1/chat/completions`; 404 for any other path."""
        received = time.monotonic()
        fake = self.server.fake
        fake.count("requests")
        path = self.path.split("?", 1)[0].rstrip("/")
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self.reject(HTTPStatus.NOT_FOUND, f"unknown path {self.path}")
            return
        others = fake.entered(+1)  # from the request's arrival to its answer, as the client's slot sees it
        try:
            body = self.read_json_body()
            if body is not None:
                self.chat_completion(fake, body, received, fake.latency_for(others))
        finally:
            fake.entered(-1)

    def chat_completion(
        self, fake: FakeLLMServer, body: dict[str, Any], received: float, latency: float
    ) -> None:
        """Answer one parsed chat completion request, injecting a fault if one is drawn.

        The answer is worked out first and sent `latency` after the request arrived: the latency
        a client sees is the configured one, whatever the server's own work took. A request over
        the server's `rpm` or `tpm` is refused at once with 429 and `Retry-After`.
        """
        problem = _request_problem(body)
        if problem:
            self.reject(HTTPStatus.BAD_REQUEST, problem, read_body=False)
            return
        content: Reply | None = None
        failure: str | None = None
        try:
            content = fake.responder(body)
        except Exception as exc:
            failure = f"responder failed: {type(exc).__name__}: {exc}"
        wait, limit_headers = fake.admit(_usage(body, content or "")["total_tokens"])
        if wait > 0:
            error = _error_body(
                f"Rate limit reached; retry in {wait:.3f}s (FakeLLMServer).", "rate_limit_error"
            )
            retry = {"Retry-After": str(math.ceil(wait)), "retry-after-ms": str(math.ceil(wait * 1000))}
            self.send_json(HTTPStatus.TOO_MANY_REQUESTS, error, headers={**retry, **limit_headers})
            return
        fault = fake.draw_fault()
        if not fake.sleep(received + latency - time.monotonic()):
            self.close_connection = True
            return
        if fault == "429":
            error = _error_body("Rate limit reached (injected by FakeLLMServer).", "rate_limit_error")
            self.send_json(HTTPStatus.TOO_MANY_REQUESTS, error, headers={"Retry-After": "0", **limit_headers})
            return
        if fault == "500":
            error = _error_body("The server had an error (injected by FakeLLMServer).", "server_error")
            self.send_json(HTTPStatus.INTERNAL_SERVER_ERROR, error)
            return
        if fault == "timeout" and not fake.sleep(fake.timeout_s):
            self.close_connection = True
            return
        if failure is not None or content is None:
            error = _error_body(failure or "responder gave no answer", "server_error")
            self.send_json(HTTPStatus.INTERNAL_SERVER_ERROR, error)
            return
        if fault == "malformed" and isinstance(content, str):
            content = _malformed(content)
        fake.count("completions")
        self.send_json(HTTPStatus.OK, _completion_body(body, content), headers=limit_headers)

    def read_json_body(self) -> dict[str, Any] | None:
        """The request body as a JSON object, or None after answering 400 for a bad one."""
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY_BYTES:
            self.reject(HTTPStatus.BAD_REQUEST, "a Content-Length header is required", read_body=False)
            self.close_connection = True
            return None
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.reject(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {exc}", read_body=False)
            return None
        if not isinstance(body, dict):
            self.reject(HTTPStatus.BAD_REQUEST, "the body must be a JSON object", read_body=False)
            return None
        return body

    def reject(self, status: HTTPStatus, message: str, *, read_body: bool = True) -> None:
        """Answer an invalid request with an OpenAI-style `invalid_request_error`."""
        self.server.fake.count("rejected")
        if read_body:
            self.discard_body()
        self.send_json(status, _error_body(message, "invalid_request_error"))

    def discard_body(self) -> None:
        """Read and drop the request body, so the connection can serve the next request."""
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = 0
        if 0 < length <= _MAX_BODY_BYTES:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def send_json(self, status: HTTPStatus, payload: Any, *, headers: dict[str, str] | None = None) -> None:
        """Write a JSON response; a client that has gone away is ignored."""
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (ConnectionError, TimeoutError):
            self.close_connection = True


def default_responder(body: dict[str, Any]) -> str:
    """The default answer: a schema instance for JSON-schema `response_format`s, else plain text.

    Recognises `{"type": "json_schema", "json_schema": {"schema": ...}}` and
    `{"type": "json_object", "schema": ...}`; a bare `json_object` gets a small JSON object. The
    sample is seeded from the messages, so the same conversation always gets the same answer.
    """
    rng = random.Random(_messages_seed(body.get("messages", [])))
    response_format = body.get("response_format")
    schema = _response_schema(response_format)
    if schema is not None:
        return json.dumps(sample_from_schema(schema, rng=rng))
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        return json.dumps({"answer": f"sample answer {rng.randint(1, 1000)}"})
    words = len(_messages_text(body.get("messages", [])).split())
    return f"This is a fake answer ({rng.randint(1, 1000)}) to a conversation of {words} words."


def _response_schema(response_format: Any) -> dict[str, Any] | None:
    """The JSON schema a `response_format` asks for, if it names one."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
    elif kind == "json_object":
        schema = response_format.get("schema")
    else:
        schema = None
    return schema if isinstance(schema, dict) else None


def _request_problem(body: dict[str, Any]) -> str | None:
    """Why a chat completion request is invalid for this server, or None."""
    if body.get("stream"):
        return "streaming is not supported by FakeLLMServer; send stream=false"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "`messages` must be a non-empty list"
    if not isinstance(body.get("model"), str):
        return "`model` must be a string"
    return None


def _messages_text(messages: Any) -> str:
    """The text of all messages (string contents and text parts), joined by newlines."""
    if not isinstance(messages, list):
        return ""
    texts: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                part["text"]
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
    return "\n".join(texts)


def _messages_seed(messages: Any) -> int:
    """A seed derived from the messages, stable across processes (unlike `hash`)."""
    canonical = json.dumps(messages, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(canonical).digest()[:8], "big")


def _word_count(text: str) -> int:
    """A rough token count: the number of whitespace-separated words (at least 1)."""
    return max(1, len(text.split()))


def _malformed(content: str) -> str:
    """`content` cut in half, made sure not to parse as JSON."""
    cut = content[: len(content) // 2]
    try:
        json.loads(cut)
    except json.JSONDecodeError:
        return cut
    return cut + '{"truncated": '


def _completion_body(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """An OpenAI `chat.completion` object answering `request` with `reply`."""
    message: dict[str, Any] = (
        {"role": "assistant", "content": reply} if isinstance(reply, str) else {"role": "assistant", **reply}
    )
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake-model"),
        "system_fingerprint": "fake-llm-server",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            }
        ],
        "usage": _usage(request, reply),
    }


def _usage(request: dict[str, Any], reply: Reply) -> dict[str, int]:
    """The tokens of a request and its answer, counted in words."""
    message = {"content": reply} if isinstance(reply, str) else reply
    prompt_tokens = _word_count(_messages_text(request.get("messages")))
    completion_tokens = _word_count(
        json.dumps(reply) if message.get("tool_calls") else message.get("content") or ""
    )
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _error_body(message: str, error_type: str) -> dict[str, Any]:
    """An OpenAI-style error object."""
    codes = {"rate_limit_error": "rate_limit_exceeded", "invalid_request_error": "invalid_request"}
    return {"error": {"message": message, "type": error_type, "param": None, "code": codes.get(error_type)}}


def _models_body(models: Sequence[str]) -> dict[str, Any]:
    """The `/v1/models` list."""
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "fake-llm-server"} for name in models
        ],
    }


# -- command line ----------------------------------------------------------------------------------


def load_responder(spec: str) -> Responder:
    """The callable named by `package.module:function` (or `package.module.function`)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep:
        module_name, _, attribute = spec.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"--responder must look like module:function, not {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{spec} is not callable")
    return target


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.fake_llm_server", description="Serve a fake OpenAI-compatible LLM."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept before each answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="chance of a fault per completion")
    parser.add_argument(
        "--fault-kinds",
        default=",".join(FAULT_KINDS),
        help="comma-separated subset of 429,500,timeout,malformed",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help='seconds a "timeout" fault sleeps')
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault draws")
    parser.add_argument("--responder", default=None, help="module:function returning the answer content")
    parser.add_argument("--models", default="fake-model", help="comma-separated names for /v1/models")
    parser.add_argument("--rpm", type=int, default=None, help="requests per minute before 429s")
    parser.add_argument("--tpm", type=int, default=None, help="tokens (words) per minute before 429s")
    parser.add_argument(
        "--ratelimit-headers", action="store_true", help="send OpenAI's x-ratelimit-* headers"
    )
    parser.add_argument(
        "--saturate", type=float, default=None, help="K: latency times 1 + (completions in flight) / K"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM, after printing the base URL as the first line of stdout."""
    args = _parse_args(argv)
    server = FakeLLMServer(
        host=args.host,
        port=args.port,
        latency_s=args.latency,
        fault_rate=args.fault_rate,
        fault_kinds=[kind.strip() for kind in args.fault_kinds.split(",") if kind.strip()],
        timeout_s=args.timeout,
        seed=args.seed,
        responder=load_responder(args.responder) if args.responder else None,
        models=[name.strip() for name in args.models.split(",") if name.strip()],
        rpm=args.rpm,
        tpm=args.tpm,
        ratelimit_headers=args.ratelimit_headers,
        saturate=args.saturate,
    )
    done = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with server:
        print(server.base_url, flush=True)
        while not done.wait(0.2):
            pass
    print(f"fake LLM server stopped: {json.dumps(server.stats())}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
