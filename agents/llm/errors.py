"""What a model call can end in besides an answer."""

from __future__ import annotations

from schemas.errors import InputError


class LLMCallError(RuntimeError):
    """A call that failed: permanently, or transiently after every retry (`transient` says which)."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class StructuredOutputError(ValueError):
    """No answer passed validation after the allowed repairs; the message says why."""


class ModelUnavailable(LLMCallError, InputError):
    """A model that cannot serve the run: missing credentials, an unknown model, a server nothing
    answers on (found by the check before a run), or one whose every recent call failed the same way
    (found during it). Not retried; the run stops. The message names the role(s), the model and the cause.
    """

    def __init__(self, roles: str, model: str, cause: str, *, api_base: str | None = None) -> None:
        where = f" at {api_base}" if api_base else ""
        super().__init__(f"{roles}: model {model}{where}: {cause}", transient=False)
        self.roles, self.model, self.cause = roles, model, cause
