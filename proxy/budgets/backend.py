"""Opening the configured ledger, and the fail-open wrapper for deployments that choose it."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proxy.budgets.accounting import Accountant, new_reservation_id
from proxy.budgets.config import BudgetConfig
from proxy.budgets.ledger import BudgetRequest, Ledger, LedgerUnavailable, Reservation
from proxy.budgets.limits import BudgetLimits
from proxy.budgets.prices import PriceTable
from proxy.exchange import Principal

log = logging.getLogger(__name__)


def open_ledger(config: BudgetConfig, data_dir: Path, *, clock: Callable[[], float] = time.time,
                limits: BudgetLimits | None = None, prices: PriceTable | None = None) -> Ledger:
    """Open the configured backend and expire what crashed processes left behind.

    `limits`/`prices` override the files (tests); `clock` is epoch seconds. With
    `fail_closed: false` an unreachable backend lets requests through unbudgeted (logged).
    """
    acct = Accountant(config, clock, limits, prices)
    ledger: Ledger
    if config.backend == "redis":
        from proxy.budgets.redis_ledger import RedisLedger  # redis is an optional extra

        ledger = RedisLedger(config.redis_url, acct, config.redis_timeout_s)
    else:
        path = Path(config.sqlite_path)
        ledger = _open_sqlite(path if path.is_absolute() else Path(data_dir) / path, acct)
    if not config.fail_closed:
        ledger = FailOpenLedger(ledger, acct)
    try:
        ledger.reconcile()
    except LedgerUnavailable as e:  # the proxy still starts; each reserve reports the outage
        log.error("%s", e)
    return ledger


def _open_sqlite(path: Path, acct: Accountant) -> Ledger:
    from proxy.budgets.sqlite_ledger import SqliteLedger

    return SqliteLedger(path, acct)


class FailOpenLedger:
    """Wraps a ledger so that an outage lets requests through (unbudgeted) instead of refusing."""

    def __init__(self, inner: Ledger, acct: Accountant) -> None:
        self.inner = inner
        self.acct = acct

    def reserve(self, req: BudgetRequest) -> Reservation:
        try:
            return self.inner.reserve(req)
        except LedgerUnavailable as e:
            log.error("%s; failing open: request not budgeted", e)
            now = self.acct.clock()
            return Reservation(id=new_reservation_id(), keys=(), tokens=0, nano_usd=0, model=req.model,
                               provider=req.provider, expires_at=now, remaining={"unavailable": True})

    def settle(self, res: Reservation, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> None:
        try:
            self.inner.settle(res, input_tokens, output_tokens, cached_tokens)
        except LedgerUnavailable as e:
            log.error("%s; usage of one request not recorded", e)

    def release(self, res: Reservation) -> None:
        try:
            self.inner.release(res)
        except LedgerUnavailable as e:
            log.error("%s", e)

    def remaining(self, req: BudgetRequest | Principal, provider: str = "", model: str = "") -> dict[str, Any]:
        try:
            return self.inner.remaining(req, provider, model)
        except LedgerUnavailable:
            return {"unavailable": True}

    def report(self, user: str | None = None, team: str | None = None) -> list[dict[str, Any]]:
        return self.inner.report(user, team)

    def reconcile(self) -> int:
        return self.inner.reconcile()

    def cost_usd(self, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        return self.inner.cost_usd(model, input_tokens, output_tokens, cached_tokens)

    def close(self) -> None:
        self.inner.close()
