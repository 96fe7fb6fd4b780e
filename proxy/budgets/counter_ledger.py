"""What the SQLite and Redis ledgers share: settle, release and reads over their counters."""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from proxy.budgets.accounting import Accountant, CounterState
from proxy.budgets.ledger import BudgetRequest, LedgerUnavailable, Reservation
from proxy.exchange import Principal

log = logging.getLogger(__name__)


class CounterLedger(ABC):
    """A ledger of per-budget counters; subclasses store them and close reservations atomically."""

    acct: Accountant

    @abstractmethod
    def _close(self, res: Reservation, settle: bool, tokens: int, nano: int) -> None:
        """Atomically replace a reservation's hold by `tokens`/`nano` (settle) or drop it."""

    @abstractmethod
    def _states(self, keys: list[str]) -> list[CounterState]:
        """The counters' current states, in the order of `keys`."""

    @abstractmethod
    def reconcile(self) -> int:
        """Expire reservations older than the TTL (crashed processes); return how many."""

    def settle(self, res: Reservation, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> None:
        """Replace the hold by actual usage; after expiry the usage is still charged, once."""
        nano = self.acct.prices.cost_nano(res.model, input_tokens, output_tokens, cached_tokens)
        self._close(res, True, max(0, input_tokens) + max(0, output_tokens), nano)

    def release(self, res: Reservation) -> None:
        """Drop the hold without charging."""
        self._close(res, False, 0, 0)

    def _sweep(self) -> None:
        try:
            self.reconcile()
        except LedgerUnavailable as e:  # reserve itself will report the outage
            log.warning("%s", e)

    def remaining(self, req: BudgetRequest | Principal, provider: str = "", model: str = "") -> dict[str, Any]:
        """Least tokens/USD left over the budgets that apply, without holding anything."""
        now = self.acct.clock()
        applied = self.acct.applied_for(self.acct.subject_of(req, provider, model), now)
        return self.acct.remaining(applied, self._states([a.key for a in applied]))

    def cost_usd(self, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """Cost in USD under the current price table."""
        return self.acct.prices.cost_usd(model, input_tokens, output_tokens, cached_tokens)
