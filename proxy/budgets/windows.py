"""Budget windows: the calendar period a usage counter belongs to, and when it resets (UTC)."""
from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Period:
    """One concrete window instance: its key, its bounds (epoch seconds) and its reset time."""

    window: str
    key: str
    start: float
    end: float
    resets_at: datetime
    resets_iso: str  # e.g. '2026-11-27T00:00:00Z'

    def contains(self, now: float) -> bool:
        return self.start <= now < self.end


def period_of(window: str, now: float) -> Period:
    """The period of `window` containing `now`."""
    end = resets_at(window, now)
    dt = datetime.fromtimestamp(now, UTC)
    start = datetime(dt.year, dt.month, dt.day if window == "daily" else 1, tzinfo=UTC)
    return Period(window, period_key(window, now), start.timestamp(), end.timestamp(), end,
                  end.isoformat().replace("+00:00", "Z"))
