"""Prefect flows: they only wire tasks together. `python -m flows.corpus` runs the main job.

Prefect reads its settings when it is imported; the factory's terminal shows one progress line per
stage, so Prefect's own console logging starts at WARNING unless the user chose otherwise.

A Prefect server this process starts (the ephemeral one) writes task runs in batches of 200, at least
every second: one at a time (its default) it fell behind a run's task runs, 2,000 of them took
80 s more to record after the run, and any left unrecorded when it stopped were lost.
"""

import os

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE", "200")
os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL", "1")
