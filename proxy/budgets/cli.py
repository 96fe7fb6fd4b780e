"""`customs budgets`: usage against limits in the current windows, as a table."""
from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from proxy.budgets.backend import open_ledger
from proxy.budgets.config import BudgetConfig
from proxy.budgets.ledger import LedgerUnavailable

_COLUMNS = ("budget", "subject", "window", "period", "unit", "limit", "used", "reserved", "remaining", "resets_at")


def add_parser(subparsers: Any) -> None:
    """Register `budgets [--user U] [--team T] [--config FILE]`."""
    p = subparsers.add_parser("budgets", help="show token and cost usage against budget limits")
    p.add_argument("--user", help="only this user's budgets")
    p.add_argument("--team", help="only this team's budgets")
    p.add_argument("--config", help="YAML config file (default: $CUSTOMS_CONFIG or built-in defaults)")
    p.set_defaults(func=run)


def _cell(row: dict[str, Any], col: str) -> str:
    v = row[col]
    if col == "subject":
        narrow = "".join(f" {k}={row[k]}" for k in ("model", "provider") if row[k] != "*")
        return f"{row['scope']}:{v}{narrow}" if row["scope"] != "global" else f"all{narrow}"
    if isinstance(v, float) and row["unit"] == "usd":
        return f"${v:,.4f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows as an aligned text table (numbers right-aligned)."""
    if not rows:
        return "no budgets apply (see policies/data/budgets.yaml)"
    cells = [[_cell(r, c) for c in _COLUMNS] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(_COLUMNS)]
    numeric = {"limit", "used", "reserved", "remaining"}
    def line(vals: list[str]) -> str:
        return "  ".join(v.rjust(w) if c in numeric else v.ljust(w)
                         for v, w, c in zip(vals, widths, _COLUMNS, strict=True)).rstrip()
    out = [line([c.upper() for c in _COLUMNS]), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Print the report; 2 when the ledger cannot be read."""
    from proxy.config import load_config

    config = load_config(args.config)
    try:
        ledger = open_ledger(BudgetConfig.from_dict(config.budgets), config.data_dir)
        try:
            rows = ledger.report(user=args.user, team=args.team)
        finally:
            ledger.close()
    except (LedgerUnavailable, ValueError) as e:
        print(f"customs budgets: {e}", file=sys.stderr)
        return 2
    print(format_table(rows), file=out)
    return 0
