"""Skip marks for tests of optional packages: a developer without them sees why a test was skipped;
CI (`CI` set), which installs them all (`make test`), never skips."""

from __future__ import annotations

import importlib.util
import os

import pytest

needs_bfcl = pytest.mark.skipif(
    importlib.util.find_spec("bfcl_eval") is None and not os.environ.get("CI"),
    reason="bfcl-eval is not installed (make bfcl)",
)
"""BFCL's official test set and checker, from the installed bfcl-eval."""
