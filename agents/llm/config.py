"""LLM settings shared by every role: which model, where, how many calls at once, and the cache."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from schemas.option import Option

LOCAL_PROVIDER = "local"  # litellm provider name of in-process GGUF models (agents/llm/local_provider.py)
HF_PROVIDER = "hf"  # litellm provider name of in-process model folders (agents/llm/hf_provider.py)
EMBEDDED_MODEL = f"{LOCAL_PROVIDER}/smollm2"
ROLES = ("toolsmith", "user", "assistant", "executor", "judge")
StructuredMode = Literal["auto", "json_schema", "json_object", "instructions"]


def is_local(model: str) -> bool:
    """Whether `model` runs in-process from a GGUF file (`local/...`: the embedded model, or a file)."""
    return model.startswith(f"{LOCAL_PROVIDER}/")


def is_hf(model: str) -> bool:
    """Whether `model` runs in-process from a Hugging Face model folder with transformers (`hf/FOLDER`)."""
    return model.startswith(f"{HF_PROVIDER}/")


def default_cache_dir() -> str:
    """`$TOOLFORGE_CACHE_DIR`, else `$XDG_CACHE_HOME/toolforge`, else `~/.cache/toolforge`."""
    if os.environ.get("TOOLFORGE_CACHE_DIR"):
        return os.environ["TOOLFORGE_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "toolforge")


class LLMConfig(BaseModel):
    """How the factory talks to models. API keys are never part of it: litellm reads them from the env.

    A user name and password written into `api_base` (`http://user:pw@host/v1`) are taken out of it
    when the settings are made and kept in `api_base_userinfo`, a secret that no dump includes: the
    manifest, the cache keys and the flow-run parameters Prefect stores all see `http://host/v1`.
    """

    model: Annotated[str, Option(metavar="MODEL")] = Field(
        default=EMBEDDED_MODEL,
        description="litellm model for every role: the embedded model, local/PATH.gguf for another GGUF "
        "file, hf/FOLDER for a Hugging Face model folder, or any model litellm serves.",
    )
    role_models: Annotated[dict[str, str], Option(flag="role-model", metavar="ROLE=MODEL", repeat=True)] = (
        Field(
            default_factory=dict,
            description=f"The model of one role ({', '.join(ROLES)}), in place of --model.",
        )
    )
    api_base: Annotated[str | None, Option(metavar="URL")] = Field(
        default=None,
        description="OpenAI-compatible server URL (vLLM, llama.cpp server, Ollama); a user:password in it "
        "is used for requests and written nowhere.",
    )
    api_base_userinfo: SkipJsonSchema[SecretStr | None] = Field(
        default=None,
        exclude=True,
        description="`user:password` from api_base, held apart from it and left out of every dump.",
    )
    secret_block: Annotated[str | None, Option(cli=False)] = Field(
        default=None,
        description="Name of a Prefect Secret block holding the models' API key, read when the run "
        "starts (a deployment names it); else litellm reads the key from the environment.",
    )
    api_key: SkipJsonSchema[SecretStr | None] = Field(
        default=None, exclude=True, description="The key read from `secret_block`; in no dump or form."
    )
    temperature: float = Field(default=0.3, ge=0, le=2, description="Sampling temperature of every model.")
    max_tokens: int = Field(default=1024, ge=16, description="Tokens a model may write per call.")
    seed: int = Field(default=0, description="Sampling seed passed to the model.")
    timeout_s: Annotated[float, Option(flag="timeout")] = Field(
        default=120.0, gt=0, description="Seconds per LLM request."
    )
    concurrency: int = Field(
        default=8,
        ge=1,
        description="LLM calls in flight across the whole run: the ceiling of each model's adaptive limit.",
    )
    adaptive_concurrency: Annotated[bool, Option(flag="fixed-concurrency")] = Field(
        default=True,
        description="Lower a model's calls in flight by a quarter on 429/503 and raise them by one after "
        "a run of successes, up to --concurrency (--fixed-concurrency: always --concurrency).",
    )
    throttle_on_timeout: bool = Field(
        default=False,
        description="For a server that slows down rather than refusing (vLLM, SGLang): count a timed-out "
        "call as a 429 for the adaptive limit, and start each model's limit at one call in flight, "
        "growing as the calls' latency leaves room below --timeout.",
    )
    rpm: Annotated[dict[str, int], Option(metavar="MODEL=N", repeat=True)] = Field(
        default_factory=dict,
        description="Requests per minute a model (its full litellm name) may be sent, shared by the "
        "whole run (*=N: every model); else learned from x-ratelimit-limit-requests headers, when the "
        "provider sends them.",
    )
    tpm: Annotated[dict[str, int], Option(metavar="MODEL=N", repeat=True)] = Field(
        default_factory=dict,
        description="Tokens (prompt and completion) per minute a model may use, as --rpm.",
    )
    limit_share: Annotated[int, Option(cli=False)] = Field(
        default=1,
        ge=1,
        description="Worker processes dividing --rpm and --tpm (and limits learned from headers) equally.",
    )
    max_attempts: int = Field(default=6, ge=1, description="Tries per call on transient errors.")
    backoff_base_s: Annotated[float, Option(cli=False)] = Field(
        default=0.5, ge=0, description="First wait before a retry, in seconds (doubled each try)."
    )
    backoff_max_s: Annotated[float, Option(cli=False)] = Field(
        default=30.0, ge=0, description="Longest wait before a retry, in seconds."
    )
    repair_attempts: Annotated[int, Option(cli=False)] = Field(
        default=2, ge=0, description="Re-asks after an answer fails validation."
    )
    stop_after_failures: Annotated[int, Option(metavar="N")] = Field(
        default=8,
        ge=0,
        description="Stop the run when N calls in a row to one model fail the same way, each after its "
        "retries; 0 never stops.",
    )
    structured_output: StructuredMode = Field(
        default="auto",
        description="How a model is held to a schema: auto (json_schema where the model or server takes "
        "it, else instructions), "
        "json_schema, json_object, or instructions (the schema in the prompt only).",
    )
    cache_dir: Annotated[
        str, Option(metavar="DIR", default_text="$TOOLFORGE_CACHE_DIR, else ~/.cache/toolforge")
    ] = Field(
        default_factory=default_cache_dir, description="The cache folder of LLM answers and task results."
    )
    prices: Annotated[dict[str, str], Option(flag="price", metavar="MODEL=IN/OUT", repeat=True)] = Field(
        default_factory=dict,
        description="The price of a model litellm has no price for, in USD per million prompt/completion "
        "tokens (hosted_vllm/m=0.2/0.6): its calls are counted at it, and --max-cost can be kept.",
    )
    use_cache: Annotated[bool, Option(flag="no-cache")] = Field(
        default=True,
        description="Read and write the LLM and task caches (--no-cache: ignore them, write none).",
    )
    refresh_cache: Annotated[bool, Option(cli=False)] = Field(
        default=False,
        description="Ask the model even where the cache holds an answer from before this run, and store "
        "the new one (a forecast's sample: its figures are of calls made, its answers the run's to reuse).",
    )

    def with_role(self, role: str, model: str | None) -> LLMConfig:
        """These settings with `model` for `role` (unchanged when `model` is None)."""
        if model is None:
            return self
        return self.model_copy(update={"role_models": {**self.role_models, role: model}})

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_the_url(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("api_base"), str):
            userinfo = urlsplit(data["api_base"]).netloc.rpartition("@")[0]
            if userinfo:
                data = {**data, "api_base": strip_credentials(data["api_base"])}
                data.setdefault("api_base_userinfo", userinfo)
        return data

    @field_validator("role_models")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown role(s) {unknown}; roles are {list(ROLES)}")
        return value

    @field_validator("prices")
    @classmethod
    def _prices_per_million(cls, value: dict[str, str]) -> dict[str, str]:
        for model, price in value.items():
            per_million(model, price)
        return value

    def price_of(self, model: str) -> tuple[float, float] | None:
        """The price `--price` gives `model`: USD per prompt token and per completion token."""
        return per_million(model, self.prices[model]) if model in self.prices else None

    @field_validator("rpm", "tpm")
    @classmethod
    def _positive_rates(cls, value: dict[str, int]) -> dict[str, int]:
        for model, rate in value.items():
            if rate < 1:
                raise ValueError(f"{model}: a rate limit is at least 1 per minute, not {rate}")
        return value

    def model_for(self, role: str) -> str:
        """The model string a role uses."""
        return self.role_models.get(role, self.model)

    def public_dump(self) -> dict:
        """The settings as they may be written to a manifest or shown: no credentials."""
        return self.model_dump()

    def api_base_url(self) -> str | None:
        """`api_base` with its user name and password put back: what requests are sent to."""
        if not self.api_base or self.api_base_userinfo is None:
            return self.api_base
        parts = urlsplit(self.api_base)
        netloc = f"{self.api_base_userinfo.get_secret_value()}@{parts.netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def secrets(self) -> list[str]:
        """The secret values these settings hold (for redaction): the password of `api_base`, the key."""
        found = [self.api_key.get_secret_value()] if self.api_key is not None else []
        if self.api_base_userinfo is not None:
            user, _, password = self.api_base_userinfo.get_secret_value().partition(":")
            found.append(password or user)
        return [value for value in found if value]


def per_million(model: str, price: str) -> tuple[float, float]:
    """`IN/OUT` in USD per million tokens as USD per token (ValueError naming `model` otherwise)."""
    given, _, out = price.partition("/")
    try:
        rates = float(given), float(out)
    except ValueError:
        rates = (-1.0, -1.0)
    if not all(math.isfinite(rate) and rate >= 0 for rate in rates):
        raise ValueError(
            f"price of {model}: {price!r} is not IN/OUT, USD per million prompt and completion tokens "
            "(e.g. 0.15/0.6)"
        )
    return rates[0] / 1e6, rates[1] / 1e6


def strip_credentials(url: str | None) -> str | None:
    """`https://user:secret@host/v1` -> `https://host/v1`; other values unchanged."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
