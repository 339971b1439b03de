"""A projected figure with its interval (`Estimate`), and a run's figures beside the forecast it was
given (`ForecastCheck`, the manifest's `forecast`); the forecast itself is `schemas/forecast.py`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Estimate(BaseModel):
    """A projected figure: its value, and the interval the sample's spread gives it (`Forecast.level`).
    Exact (low = value = high) where every sampled seed gave the same figure, or all were sampled."""

    value: float
    low: float
    high: float

    def holds(self, actual: float) -> bool:
        """Whether `actual` lies in the interval (a relative 1e-9 either side, for sums of floats)."""
        slack = 1e-9 * max(1.0, abs(self.low), abs(self.high))
        return self.low - slack <= actual <= self.high + slack


class ForecastFigure(BaseModel):
    """One figure of a run beside the forecast it was given."""

    name: str
    forecast: Estimate
    actual: float
    within: bool = Field(description="Whether the actual figure lies in the forecast's interval.")


class ForecastCheck(BaseModel):
    """A finished run's figures beside the forecast it was given (`forecast.json` in its folder)."""

    created_at: datetime = Field(description="When the forecast was made.")
    level: float
    figures: list[ForecastFigure]
