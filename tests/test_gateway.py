"""The LLM gateway through litellm with a scripted model: structure, repair, cache, retries, secrets."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import litellm
import pytest
from pydantic import BaseModel, Field

from agents.llm.cache import LLMCache
from agents.llm.config import LLMConfig, strip_credentials
from agents.llm.errors import ModelUnavailable
from agents.llm.gateway import LLMCallError, LLMGateway, StructuredOutputError
from agents.llm.health import ModelHealth
from agents.llm.preflight import check_models
from agents.llm.prompts import PromptTemplate
from agents.llm.redact import redact
from agents.llm.retry import backoff_delay, cannot_connect, is_transient
from agents.llm.slots import PrioritySlots
from agents.llm.structured import extract_json_object
from tests.support.fake_llm import ScriptedLLM


class Answer(BaseModel):
    city: str = Field(min_length=2)
    population: int = Field(ge=0)


MESSAGES = [{"role": "system", "content": "You answer."}, {"role": "user", "content": "Biggest city?"}]


def ask(gateway: LLMGateway, **kwargs) -> Answer:
    return gateway.structured(
        stage="test", role="toolsmith", messages=MESSAGES, output=Answer, template="t@1", **kwargs
    )


def test_structured_answer_is_validated_and_schema_is_requested(scripted_llm: ScriptedLLM, llm_config):
    scripted_llm.script = lambda r: '{"city": "Tokyo", "population": 37000000}'
    gateway = LLMGateway(llm_config)
    assert ask(gateway) == Answer(city="Tokyo", population=37000000)
    fmt = scripted_llm.requests[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Answer"
    assert "population" in fmt["json_schema"]["schema"]["properties"]
    # decoding is constrained by the schema, so the prompt only asks for JSON
    system = scripted_llm.requests[0]["messages"][0]["content"]
    assert system.startswith("You answer.") and "JSON object" in system and "population" not in system


def test_instructions_mode_spells_out_the_schema(scripted_llm: ScriptedLLM, llm_config):
    scripted_llm.script = lambda r: 'Here: {"city": "Tokyo", "population": 1}'
    gateway = LLMGateway(llm_config.model_copy(update={"structured_output": "instructions"}))
    assert ask(gateway).city == "Tokyo"
    request = scripted_llm.requests[0]
    assert request["response_format"] is None
    assert (
        "JSON schema" in request["messages"][0]["content"]
        and "population" in request["messages"][0]["content"]
    )


def test_invalid_answer_is_repaired_with_the_error_fed_back(scripted_llm: ScriptedLLM, llm_config):
    answers = iter(['{"city": "T", "population": -1}', '```json\n{"city": "Tokyo", "population": 5}\n```'])
    scripted_llm.script = lambda r: next(answers)
    gateway = LLMGateway(llm_config)
    assert ask(gateway).city == "Tokyo"
    feedback = scripted_llm.requests[1]["messages"][-1]["content"]
    assert "city" in feedback and "population" in feedback and "not valid" in feedback


def test_repairs_are_bounded_then_rejected_with_the_reason(scripted_llm: ScriptedLLM, llm_config):
    scripted_llm.script = lambda r: "no json here"
    gateway = LLMGateway(llm_config.model_copy(update={"repair_attempts": 1}))
    with pytest.raises(StructuredOutputError, match=r"after 2 attempt.*no JSON object"):
        ask(gateway)
    assert scripted_llm.calls == 2


def test_check_callback_failures_are_fed_back(scripted_llm: ScriptedLLM, llm_config):
    answers = iter(['{"city": "Paris", "population": 1}', '{"city": "Tokyo", "population": 2}'])
    scripted_llm.script = lambda r: next(answers)

    def tokyo_only(answer: Answer) -> None:
        if answer.city != "Tokyo":
            raise ValueError("the city must be Tokyo")

    assert ask(LLMGateway(llm_config), check=tokyo_only).city == "Tokyo"
    assert "the city must be Tokyo" in scripted_llm.requests[1]["messages"][-1]["content"]


def test_identical_rerun_is_served_from_disk_cache(scripted_llm: ScriptedLLM, llm_config):
    scripted_llm.script = lambda r: '{"city": "Tokyo", "population": 1}'
    first = LLMGateway(llm_config)
    ask(first)
    second = LLMGateway(llm_config)  # a new process would build a new gateway
    assert ask(second).city == "Tokyo"
    assert scripted_llm.calls == 1
    assert second.ledger.summary().calls == 0 and second.ledger.summary().cache_hits == 1


@pytest.mark.parametrize(
    "change",
    [
        {"model": "scripted/other"},
        {"temperature": 0.9},
        {"max_tokens": 77},
        {"seed": 5},
    ],
)
def test_cache_key_covers_what_changes_the_answer(scripted_llm: ScriptedLLM, llm_config, change):
    scripted_llm.script = lambda r: '{"city": "Tokyo", "population": 1}'
    ask(LLMGateway(llm_config))
    ask(LLMGateway(llm_config.model_copy(update=change)))
    assert scripted_llm.calls == 2


def test_cache_key_covers_template_version_and_schema(scripted_llm: ScriptedLLM, llm_config):
    class Other(BaseModel):
        city: str

    scripted_llm.script = lambda r: '{"city": "Tokyo", "population": 1}'
    gateway = LLMGateway(llm_config)
    ask(gateway)
    gateway.structured(stage="test", role="toolsmith", messages=MESSAGES, output=Answer, template="t@2")
    gateway.structured(stage="test", role="toolsmith", messages=MESSAGES, output=Other, template="t@1")
    assert scripted_llm.calls == 3


def test_refresh_asks_again_what_the_cache_held_before_and_reuses_what_it_asked(
    scripted_llm: ScriptedLLM, llm_config
):
    scripted_llm.script = lambda r: '{"city": "Tokyo", "population": 1}'
    ask(LLMGateway(llm_config))  # an earlier run's answer, in the cache
    refreshing = LLMGateway(llm_config.model_copy(update={"refresh_cache": True}))  # a forecast's sample
    ask(refreshing)
    ask(refreshing)
    assert scripted_llm.calls == 2  # asked again once, then its own answer from the cache
    usage = refreshing.ledger.summary()
    assert (usage.calls, usage.cache_hits) == (1, 1)
    assert sum(row.seconds for row in usage.by_stage_role) > 0  # the call's time; a cache hit takes none
    ask(LLMGateway(llm_config))  # the run after it: the refreshed answer, from the cache
    assert scripted_llm.calls == 2


def test_no_cache_makes_every_call(scripted_llm: ScriptedLLM, llm_config):
    scripted_llm.script = lambda r: '{"city": "Tokyo", "population": 1}'
    config = llm_config.model_copy(update={"use_cache": False})
    ask(LLMGateway(config))
    ask(LLMGateway(config))
    assert scripted_llm.calls == 2
    assert not (Path(config.cache_dir) / "llm").exists()


def test_corrupt_cache_entry_is_a_miss_and_is_rewritten(tmp_path: Path):
    cache = LLMCache(tmp_path)
    cache.put("ab" * 32, {"content": "x"})
    path = tmp_path / "ab" / f"{'ab' * 32}.json"
    path.write_text('{"content": "trunc')
    assert cache.get("ab" * 32) is None
    cache.put("ab" * 32, {"content": "y"})
    assert cache.get("ab" * 32) == {"content": "y"}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left behind


def test_transient_errors_are_retried_then_succeed(scripted_llm: ScriptedLLM, llm_config):
    failures = iter([litellm.RateLimitError("slow down", "scripted", "test"), None])

    def script(request):
        exc = next(failures)
        if exc:
            raise exc
        return '{"city": "Tokyo", "population": 1}'

    scripted_llm.script = script
    gateway = LLMGateway(llm_config)
    assert ask(gateway).city == "Tokyo"
    usage = gateway.ledger.summary()
    assert (usage.calls, usage.errors) == (1, 1)


def test_transient_errors_give_up_after_max_attempts(scripted_llm: ScriptedLLM, llm_config):
    def script(request):
        raise litellm.InternalServerError("boom", "scripted", "test")

    scripted_llm.script = script
    with pytest.raises(LLMCallError) as info:
        ask(LLMGateway(llm_config))
    assert info.value.transient and "after 3 attempt" in str(info.value)
    assert scripted_llm.calls == 3


def test_permanent_errors_are_not_retried(scripted_llm: ScriptedLLM, llm_config):
    def script(request):
        raise litellm.AuthenticationError("bad key", "scripted", "test")

    scripted_llm.script = script
    with pytest.raises(LLMCallError) as info:
        ask(LLMGateway(llm_config))
    assert not info.value.transient
    assert scripted_llm.calls == 1


def ask_twice_at_once(gateway: LLMGateway, started: threading.Event) -> list[Future]:
    """The same request twice, the second sent once the first has reached the model."""
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(ask, gateway)
        started.wait(5)
        return [first, pool.submit(ask, gateway)]


def test_identical_requests_in_flight_at_once_get_one_call_and_one_answer(scripted_llm, llm_config):
    started = threading.Event()
    answers = iter(['{"city": "Tokyo", "population": 1}', '{"city": "Osaka", "population": 2}'])

    def script(request):
        started.set()
        time.sleep(0.3)  # the second request arrives while the first is in flight
        return next(answers)

    scripted_llm.script = script
    gateway = LLMGateway(llm_config)
    first, second = ask_twice_at_once(gateway, started)
    assert first.result() == second.result() == Answer(city="Tokyo", population=1)
    assert scripted_llm.calls == 1
    usage = gateway.ledger.summary()
    assert (usage.calls, usage.cache_hits) == (1, 1)


def test_a_failed_call_fails_the_identical_requests_waiting_for_it(scripted_llm, llm_config):
    started = threading.Event()

    def script(request):
        started.set()
        time.sleep(0.3)
        raise litellm.AuthenticationError("bad key", "scripted", "test")

    scripted_llm.script = script
    for future in ask_twice_at_once(LLMGateway(llm_config), started):
        with pytest.raises(LLMCallError):
            future.result()
    assert scripted_llm.calls == 1


def test_error_classification():
    assert is_transient(litellm.Timeout("t", "m", "p"))
    assert is_transient(litellm.RateLimitError("r", "p", "m"))
    assert is_transient(litellm.InternalServerError("i", "p", "m"))
    assert not is_transient(litellm.BadRequestError("b", "m", "p"))
    assert not is_transient(litellm.ContextWindowExceededError("c", "m", "p"))
    assert not is_transient(litellm.AuthenticationError("a", "p", "m"))


def test_backoff_grows_and_is_capped():
    import random

    rng = random.Random(0)
    delays = [backoff_delay(a, base_s=1, max_s=8, rng=rng) for a in range(6)]
    assert 0.5 <= delays[0] <= 1 and 4 <= delays[3] <= 8 and all(d <= 8 for d in delays)


def test_secrets_never_reach_error_messages_or_cache(scripted_llm: ScriptedLLM, llm_config, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-supersecretvalue123456")

    def script(request):
        raise litellm.BadRequestError("rejected key sk-supersecretvalue123456", "test", "scripted")

    scripted_llm.script = script
    with pytest.raises(LLMCallError) as info:
        ask(LLMGateway(llm_config))
    assert "sk-supersecretvalue123456" not in str(info.value)
    cache_files = list(Path(llm_config.cache_dir).rglob("*"))
    assert all("supersecret" not in p.read_text() for p in cache_files if p.is_file())


def test_credentials_stripped_from_api_base():
    assert strip_credentials("https://me:pw@host:8000/v1") == "https://host:8000/v1"
    config = LLMConfig(api_base="https://me:pw-Secret9@host:8000/v1")
    # held apart, out of every dump (what Prefect stores as the flow's parameter, the manifest, the cache)
    assert config.api_base == "https://host:8000/v1"
    assert config.api_base_url() == "https://me:pw-Secret9@host:8000/v1"
    for dumped in (config.model_dump_json(), json.dumps(config.public_dump()), repr(config), str(config)):
        assert "pw-Secret9" not in dumped
    assert config.secrets() == ["pw-Secret9"]
    copy = config.model_copy(update={"temperature": 0.5})
    assert copy.api_base_url() == config.api_base_url()


def test_a_password_the_settings_hold_is_redacted_once_a_gateway_uses_them():
    config = LLMConfig(api_base="http://user:Qx7-redact-me@127.0.0.1:9/v1")
    assert "Qx7-redact-me" in redact("connection to http://127.0.0.1:9 with Qx7-redact-me failed")
    LLMGateway(config)
    assert redact("failed with Qx7-redact-me") == "failed with [REDACTED]"


def failing_calls(exc: Exception):
    def script(request):
        raise exc

    return script


def test_a_model_whose_every_call_fails_the_same_way_is_stopped(scripted_llm: ScriptedLLM, llm_config):
    scripted_llm.script = failing_calls(litellm.APIConnectionError("refused", "scripted", "test"))
    config = llm_config.model_copy(update={"max_attempts": 1, "stop_after_failures": 3})
    gateway = LLMGateway(config)
    for _ in range(2):
        with pytest.raises(LLMCallError) as info:
            ask(gateway)
        assert not isinstance(info.value, ModelUnavailable)
    with pytest.raises(ModelUnavailable, match="role toolsmith: model scripted/test: the last 3 calls"):
        ask(gateway)
    with pytest.raises(ModelUnavailable):  # refused at once, without a call
        ask(gateway, max_tokens=7)
    assert scripted_llm.calls == 3


def test_an_answer_cut_at_the_token_limit_or_empty_is_asked_again_and_never_cached(
    scripted_llm: ScriptedLLM, llm_config
):
    whole = '{"city": "Tokyo", "population": 1}'
    answers = iter([('{"city": "Tok', "length"), ("   ", "stop"), (whole, "stop")])
    scripted_llm.script = lambda request: next(answers)
    gateway = LLMGateway(llm_config)
    assert ask(gateway) == Answer(city="Tokyo", population=1)
    seeds = [r["seed"] for r in scripted_llm.requests]
    assert len(seeds) == 3 and len(set(seeds)) == 3  # asked again with another sampling seed
    assert gateway.ledger.summary().calls == 3  # every answer cost tokens
    assert ask(LLMGateway(llm_config)) == Answer(city="Tokyo", population=1)  # only the whole one cached
    assert scripted_llm.calls == 3


def test_an_answer_always_cut_is_a_permanent_error_naming_the_limit(scripted_llm: ScriptedLLM, llm_config):
    scripted_llm.script = lambda request: ('{"city": "Tok', "length")
    with pytest.raises(LLMCallError, match=r"cut at the token limit \(1024; raise --max-tokens\) on 3 tries"):
        ask(LLMGateway(llm_config))
    assert scripted_llm.calls == 3
    assert not list(Path(llm_config.cache_dir).rglob("*.json"))


def test_an_answer_stopped_in_a_loop_names_the_loop(scripted_llm: ScriptedLLM, llm_config):
    stopped = {"stopped": "caught in a loop (its last 48 tokens repeat every 2)"}
    scripted_llm.script = lambda request: ('{"city": "1.1.1.1.1.1', "length", stopped)
    with pytest.raises(LLMCallError, match=r"the answer was caught in a loop \(.*every 2\) on 3 tries"):
        ask(LLMGateway(llm_config))
    assert scripted_llm.calls == 3


def test_waiting_calls_of_a_later_stage_get_the_next_free_slot():
    slots = PrioritySlots(1)
    slots.acquire()
    order: list[str] = []
    waiters = []
    for name, priority in [("toolset", 2), ("toolset-2", 2), ("simulation", 0), ("instructions", 1)]:
        thread = threading.Thread(target=lambda n=name, p=priority: (slots.acquire(p), order.append(n)))
        thread.start()
        waiters.append(thread)
        time.sleep(0.05)  # queue them in this order
    for _ in waiters:
        slots.release()
        time.sleep(0.05)
    for thread in waiters:
        thread.join(5)
    assert order == ["simulation", "instructions", "toolset", "toolset-2"]
    slots.release()
    assert slots.in_use == 0
    with pytest.raises(RuntimeError):
        slots.release()


def test_an_answer_or_another_kind_of_failure_resets_the_count():
    health = ModelHealth(failures=3)
    for kind in ["a", "a", "b", "b"]:
        assert health.failed("user", "m", kind, "x") is None
    health.succeeded("m")
    assert health.failed("user", "m", "b", "x") is None
    assert health.failed("user", "m", "b", "x") is None
    stopped = health.failed("user", "m", "b", "boom")
    assert isinstance(stopped, ModelUnavailable) and "boom" in str(stopped)
    assert health.tripped("m") is stopped and health.tripped("other") is None
    assert ModelHealth(failures=0).failed("user", "m", "b", "x") is None


def test_the_model_check_names_the_role_and_the_cause_of_a_local_model(llm_config, tmp_path):
    config = llm_config.model_copy(
        update={"model": "scripted/test", "role_models": {"judge": f"local/{tmp_path}/none.gguf"}}
    )
    gateway = LLMGateway(config)
    check_models(gateway, ["toolsmith", "user"])  # an in-process provider: nothing to check
    with pytest.raises(ModelUnavailable, match=r"role judge: model local/.*none\.gguf: GGUF model file not"):
        check_models(gateway, ["toolsmith", "judge"])


def test_cannot_connect_sees_through_litellms_500():
    refused = litellm.InternalServerError("Connection refused", "hosted_vllm", "m")
    refused.__cause__ = httpx.ConnectError("[Errno 111] Connection refused")
    assert cannot_connect(refused)
    assert not cannot_connect(litellm.InternalServerError("boom", "hosted_vllm", "m"))


def test_concurrency_limit_holds_across_threads(scripted_llm: ScriptedLLM, llm_config):
    in_flight, peak, lock = 0, 0, threading.Lock()

    def script(request):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        return '{"city": "Tokyo", "population": 1}'

    scripted_llm.script = script
    gateway = LLMGateway(llm_config.model_copy(update={"concurrency": 3, "use_cache": False}))
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda _: ask(gateway), range(12)))
    assert peak == 3


def test_prompt_template_sections_version_and_missing_values():
    template = PromptTemplate.parse("demo", "[system]\nYou are $who.\n[user]\nSay {json} for $what.\n")
    messages = template.render(who="a tester", what="me")
    assert messages == [
        {"role": "system", "content": "You are a tester."},
        {"role": "user", "content": "Say {json} for me."},
    ]
    assert template.key.startswith("demo@") and len(template.version) == 12
    assert PromptTemplate.parse("demo", "[system]\nx\n[user]\ny\n").version != template.version
    with pytest.raises(KeyError, match="what"):
        template.render(who="x")
    with pytest.raises(ValueError, match="section"):
        PromptTemplate.parse("bad", "no sections")


def test_extract_json_object_variants():
    assert extract_json_object('Sure! {"a": 1} hope it helps') == {"a": 1}
    with pytest.raises(ValueError, match="not an object"):
        extract_json_object("[1, 2]")
    with pytest.raises(ValueError, match="not valid JSON"):
        extract_json_object('{"a": 1')  # truncated


FIRST_CALL_AFTER_SET_UP = textwrap.dedent(
    """
    import json, sys
    import agents.llm
    from agents.llm.litellm_setup import import_litellm
    from bench.fake_llm_server import FakeLLMServer

    litellm = import_litellm()
    with FakeLLMServer() as server:
        before = set(sys.modules)
        litellm.completion(
            model="openai/fake-model", api_base=server.base_url, api_key="k", timeout=10, num_retries=0,
            messages=[{"role": "user", "content": "hi"}],
        )
        loaded = sorted(set(sys.modules) - before)
        print(json.dumps({"loaded": loaded, "completions": server.completions}))
    """
)


def test_setting_litellm_up_loads_what_the_first_calls_would_load_inside_their_slots():
    # In a fresh interpreter: litellm's lazy loading happens once per process. Left to the first
    # calls, its tokenizer, proxy types and the OpenAI SDK's resources (about 0.6 s) load inside
    # every slot at once while the calls wait (bench/README.md); set-up loads them and sends nothing.
    done = subprocess.run(
        [sys.executable, "-c", FIRST_CALL_AFTER_SET_UP],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["completions"] == 1  # the warm-up answered itself: no request reached the server
    heavy = [
        name
        for name in report["loaded"]
        if name.startswith(("tiktoken", "openai.resources", "litellm.proxy"))
    ]
    assert heavy == []


# -- litellm's callbacks and prices ---------------------------------------------------------------


def test_a_litellm_callback_someone_registers_sees_every_answer_of_the_gateway(tmp_path, monkeypatch):
    """The gateway keeps its own ledger and leaves litellm's logging as litellm ships it: a success
    callback registered with litellm (an observability tool's) receives each answer."""
    from bench.fake_llm_server import FakeLLMServer

    seen: list[str] = []
    monkeypatch.setattr(
        litellm,
        "success_callback",
        [lambda kwargs, response, start, end: seen.append(response.choices[0].message.content)],
    )
    with FakeLLMServer() as server:
        config = LLMConfig(
            model="hosted_vllm/fake-model", api_base=server.base_url, cache_dir=str(tmp_path), use_cache=False
        )
        gateway = LLMGateway(config)
        answers = [
            gateway.complete(
                stage="s", role="user", messages=[{"role": "user", "content": text}], template="t"
            )
            for text in ("hello", "again")
        ]
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:  # litellm calls it from a background thread
            time.sleep(0.05)
    assert sorted(seen) == sorted(answer.content for answer in answers)


def test_a_listed_model_is_priced_and_an_unlisted_one_costs_nothing_without_a_warning(tmp_path, caplog):
    """A model in litellm's price list is priced by litellm; one missing from it (a self-hosted model)
    is registered with litellm at zero cost on its first call, so its calls cost 0 in the ledger and
    litellm neither warns nor fails about a model it cannot price."""
    from bench.fake_llm_server import FakeLLMServer

    unlisted, listed = "hosted_vllm/toolforge-unlisted-model", "openai/gpt-4o-mini"
    with pytest.raises(Exception, match="isn't mapped"):
        litellm.get_model_info(model=unlisted)
    costs = {}
    with FakeLLMServer() as server, caplog.at_level(logging.WARNING):
        for model in (unlisted, listed):
            config = LLMConfig(
                model=model, api_base=server.base_url, cache_dir=str(tmp_path), use_cache=False
            )
            gateway = LLMGateway(config)
            for text in ("one", "two"):
                gateway.complete(
                    stage="s", role="user", messages=[{"role": "user", "content": text}], template="t"
                )
            costs[model] = gateway.ledger.summary().cost_usd
        time.sleep(0.5)  # litellm's logging of the calls, on its background thread
    assert costs[unlisted] == 0.0 and costs[listed] > 0
    assert litellm.get_model_info(model=unlisted)["input_cost_per_token"] == 0.0
    assert [r.getMessage() for r in caplog.records if r.name.startswith("LiteLLM")] == []
