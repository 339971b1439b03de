"""Keep secrets out of artifacts, manifests, cache files and logs."""

from __future__ import annotations

import os
import re
import threading

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]{8,}")
_URL_PASSWORD = re.compile(r"(//[^/:@\s]+:)[^@\s/]+@")
_KEY_LIKE = re.compile(r"\b(sk|pk|rk|hf|gsk|xai)[-_][A-Za-z0-9_\-]{12,}")


_registered: set[str] = set()
_registered_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Redact `value` from now on too (a password the settings hold, say), wherever it appears."""
    if len(value) >= 4:
        with _registered_lock:
            _registered.add(value)


def secret_values() -> list[str]:
    """Values of environment variables whose names look like credentials (at least 6 characters), and
    the registered secrets; longest first."""
    from_env = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 6}
    with _registered_lock:
        found = from_env | _registered
    return sorted(found, key=len, reverse=True)


def redact(text: str) -> str:
    """`text` with every credential-looking value replaced by `[REDACTED]`."""
    for value in secret_values():
        text = text.replace(value, "[REDACTED]")
    text = _BEARER.sub(r"\1[REDACTED]", text)
    text = _URL_PASSWORD.sub(r"\1[REDACTED]@", text)
    return _KEY_LIKE.sub("[REDACTED]", text)
