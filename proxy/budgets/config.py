"""Budget configuration: which ledger backend, where the limits and prices live."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

BACKENDS = ("sqlite", "redis")


@dataclass(slots=True)
class BudgetConfig:
    """The `budgets:` section of the Customs configuration."""

    backend: str = "sqlite"  # "sqlite" | "redis"
    sqlite_path: str = "budgets.sqlite3"  # relative to the data dir
    redis_url: str = "redis://127.0.0.1:6379/0"
    limits_file: str = "policies/data/budgets.yaml"
    prices_file: str = "policies/data/providers.yaml"
    reservation_ttl_s: float = 600  # a reservation of a crashed process expires after this
    default_max_tokens: int = 4096  # estimate when the request sets no max_tokens
    fail_closed: bool = True
    redis_timeout_s: float = 1.0  # socket timeout: a hung Redis must not hang the proxy loop
    reload_interval_s: float = 1.0  # how often the limits/prices files are checked for changes

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Self:
        """Build from a mapping; unknown keys are an error so typos do not pass silently."""
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"budgets: unknown setting(s): {', '.join(unknown)}")
        cfg = cls(**d)
        if cfg.backend not in BACKENDS:
            raise ValueError(f"budgets.backend must be one of {BACKENDS}, not {cfg.backend!r}")
        if cfg.reservation_ttl_s <= 0:
            raise ValueError("budgets.reservation_ttl_s must be positive")
        if cfg.default_max_tokens <= 0:
            raise ValueError("budgets.default_max_tokens must be positive")
        cfg.reservation_ttl_s = float(cfg.reservation_ttl_s)
        cfg.fail_closed = bool(cfg.fail_closed)
        return cfg
