"""Token and cost budgets: limits as policy data, a ledger that reserves before forwarding.

The pipeline calls `reserve` before forwarding (BudgetExceeded -> 429), then `settle` with the
usage the provider reported, or `release` on error/disconnect. See DESIGN.md, "Budgets".
"""
from proxy.budgets.backend import FailOpenLedger, open_ledger
from proxy.budgets.config import BudgetConfig
from proxy.budgets.ledger import (
    BudgetExceeded,
    BudgetRequest,
    Ledger,
    LedgerUnavailable,
    Reservation,
    remaining_headers,
)
from proxy.budgets.limits import BudgetLimits, BudgetRule
from proxy.budgets.prices import Price, PriceTable, cost_usd

__all__ = [
    "BudgetConfig", "BudgetExceeded", "BudgetLimits", "BudgetRequest", "BudgetRule", "FailOpenLedger",
    "Ledger", "LedgerUnavailable", "Price", "PriceTable", "Reservation", "cost_usd", "open_ledger",
    "remaining_headers",
]
