"""Prefect flows: they only wire tasks together. `python -m flows.corpus` runs the main job.

Prefect reads its settings when it is imported; the factory's terminal shows one progress line per
stage, so Prefect's own console logging starts at WARNING unless the user chose otherwise.
"""

import os

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
