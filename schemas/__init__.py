"""Pydantic models: the one source of truth for every record and every Parquet schema."""
