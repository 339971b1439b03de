"""Run storage: versioned Parquet artifacts and manifests under `<out>/runs/<run_id>/`, and `latest`."""

from storage.run_store import RunStore, RunWriter

__all__ = ["RunStore", "RunWriter"]
