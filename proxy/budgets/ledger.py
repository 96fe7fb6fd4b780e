"""The ledger contract: reserve an estimate before forwarding, settle actual usage after."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from proxy.exchange import Principal


@dataclass(frozen=True, slots=True)
class BudgetRequest:
    """What one request may cost, as estimated before it is forwarded."""

    user: str
    team: str
    key_id: str
    provider: str
    model: str
    input_tokens: int  # prompt estimate (~ len(text)/4)
    max_output_tokens: int  # request max_tokens or the per-model default (<= 0: config default)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A held estimate. Keep it until `settle` or `release`; it expires after the TTL."""

    id: str
    keys: tuple[str, ...]  # the usage counters charged ("budget|subject|period")
    tokens: int  # estimate held on each counter
    nano_usd: int  # estimated cost held on each counter, nano-USD
    model: str
    provider: str
    expires_at: float  # epoch seconds
    remaining: dict[str, Any] = field(default_factory=dict, compare=False)

    def headers(self) -> dict[str, str]:
        """Response headers describing what remains after this reservation."""
        return remaining_headers(self.remaining)


def remaining_headers(remaining: dict[str, Any]) -> dict[str, str]:
    """`x-customs-budget-*` headers for a `remaining` dict (absent values are left out)."""
    out: dict[str, str] = {}
    if remaining.get("tokens") is not None:
        out["x-customs-budget-remaining-tokens"] = str(remaining["tokens"])
    if remaining.get("usd") is not None:
        out["x-customs-budget-remaining-usd"] = f"{remaining['usd']:.6f}"
    if remaining.get("budget"):
        out["x-customs-budget"] = str(remaining["budget"])
    if remaining.get("resets_at"):
        out["x-customs-budget-reset"] = str(remaining["resets_at"])
    return out


class BudgetExceeded(Exception):
    """The request's estimate does not fit a budget. The message is safe to show the client."""

    def __init__(self, name: str, budget: str, limit: int | float, used: int | float, unit: str,
                 resets_at: datetime, requested: int | float) -> None:
        self.name = name  # the rule's name in budgets.yaml, e.g. "team-payments-daily"
        self.budget = budget  # the instance, e.g. "team:payments daily tokens"
        self.limit = limit
        self.used = used  # settled plus in-flight reservations
        self.unit = unit  # "tokens" | "usd"
        self.resets_at = resets_at
        self.requested = requested
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes
        return (type(self), (self.name, self.budget, self.limit, self.used, self.unit,
                             self.resets_at, self.requested))

    @property
    def message(self) -> str:
        def fmt(v: int | float) -> str:
            return f"${v:.4f}" if self.unit == "usd" else f"{int(v)} tokens"
        return (f"Budget exceeded: {self.name} ({self.budget}) allows {fmt(self.limit)}, "
                f"{fmt(self.used)} used, this request needs up to {fmt(self.requested)}; "
                f"resets at {self.resets_at.isoformat().replace('+00:00', 'Z')}")

    def as_dict(self) -> dict[str, Any]:
        """For the policy input and the audit event."""
        return {"name": self.name, "budget": self.budget, "limit": self.limit, "used": self.used,
                "unit": self.unit, "requested": self.requested,
                "resets_at": self.resets_at.isoformat().replace("+00:00", "Z")}


class LedgerUnavailable(Exception):
    """The ledger backend cannot be reached or written; the message names no secrets."""


class Ledger(Protocol):
    """What the proxy pipeline calls. Implementations: SqliteLedger, RedisLedger."""

    def reserve(self, req: BudgetRequest) -> Reservation:
        """Hold the estimate on every applicable budget atomically, or raise BudgetExceeded."""
        ...

    def settle(self, res: Reservation, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> None:
        """Replace the reservation by actual usage (cached_tokens are part of input_tokens)."""
        ...

    def release(self, res: Reservation) -> None:
        """Drop the reservation without charging (upstream error, client disconnect)."""
        ...

    def remaining(self, req: BudgetRequest | Principal, provider: str = "", model: str = "") -> dict[str, Any]:
        """What remains for this principal/model: tokens, usd, tightest budget, reset time."""
        ...

    def report(self, user: str | None = None, team: str | None = None) -> list[dict[str, Any]]:
        """Usage against limits in the current windows, one row per budget instance and unit."""
        ...

    def reconcile(self) -> int:
        """Expire reservations older than the TTL (crashed processes); return how many."""
        ...

    def cost_usd(self, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """Cost in USD under the current price table."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
