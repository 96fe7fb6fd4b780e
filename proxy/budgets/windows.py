"""Budget windows: the calendar period a usage counter belongs to, and when it resets (UTC)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Window = Literal["daily", "monthly"]
WINDOWS: tuple[str, ...] = ("daily", "monthly")


def period_key(window: str, now: float) -> str:
    """The period a timestamp falls in: '2026-11-26' for daily, '2026-11' for monthly."""
    dt = datetime.fromtimestamp(now, UTC)
    if window == "daily":
        return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}"
    if window == "monthly":
        return f"{dt.year:04d}-{dt.month:02d}"
    raise ValueError(f"unknown budget window {window!r}")


def resets_at(window: str, now: float) -> datetime:
    """The first instant (UTC) of the period after the one containing `now`."""
    dt = datetime.fromtimestamp(now, UTC)
    if window == "daily":
        start = datetime(dt.year, dt.month, dt.day, tzinfo=UTC)
        return datetime.fromtimestamp(start.timestamp() + 86400, UTC)
    if window == "monthly":
        if dt.month == 12:
            return datetime(dt.year + 1, 1, 1, tzinfo=UTC)
        return datetime(dt.year, dt.month + 1, 1, tzinfo=UTC)
    raise ValueError(f"unknown budget window {window!r}")
