"""The embedded ledger: one SQLite file in the data dir (WAL), safe across threads and processes.

Every change is one `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock up front:
the read-check-write of a reservation cannot interleave with another process's. Within the
process a lock serialises the one shared connection.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from proxy.budgets.accounting import ZERO, Accountant, CounterState, new_reservation_id
from proxy.budgets.ledger import BudgetRequest, LedgerUnavailable, Reservation
from proxy.budgets.windows import period_key
from proxy.exchange import Principal

log = logging.getLogger(__name__)

# Closed reservations are kept this long so that a late second settle/release stays a no-op.
CLOSED_RETENTION_S = 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    budget TEXT NOT NULL,
    subject TEXT NOT NULL,
    period TEXT NOT NULL,
    settled_tokens INTEGER NOT NULL DEFAULT 0,
    settled_nano INTEGER NOT NULL DEFAULT 0,
    reserved_tokens INTEGER NOT NULL DEFAULT 0,
    reserved_nano INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counters_by_budget ON counters (budget, period);
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,
    keys TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    nano INTEGER NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    status TEXT NOT NULL,
    closed REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reservations_open ON reservations (status, expires);
"""

_SELECT = "SELECT settled_tokens, settled_nano, reserved_tokens, reserved_nano FROM counters WHERE key = ?"
# One statement moves both settled and reserved amounts; inserting creates the counter.
_UPSERT = """
INSERT INTO counters (key, budget, subject, period, settled_tokens, settled_nano, reserved_tokens, reserved_nano)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    settled_tokens = settled_tokens + excluded.settled_tokens,
    settled_nano = settled_nano + excluded.settled_nano,
    reserved_tokens = reserved_tokens + excluded.reserved_tokens,
    reserved_nano = reserved_nano + excluded.reserved_nano
"""
_INSERT_RES = ("INSERT INTO reservations (id, keys, tokens, nano, created, expires, status) "
               "VALUES (?, ?, ?, ?, ?, ?, 'open')")
_GET_RES = "SELECT status, tokens, nano FROM reservations WHERE id = ?"
_CLOSE_RES = "UPDATE reservations SET status = ?, closed = ? WHERE id = ?"


def _split_key(key: str) -> tuple[str, str, str]:
    budget, subject, period = key.split("|")
    return budget, subject, period


class SqliteLedger:
    """Ledger on one SQLite file; see the module docstring for the concurrency argument."""

    def __init__(self, path: Path, accountant: Accountant) -> None:
        self.path = path
        self.acct = accountant
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are explicit BEGIN IMMEDIATE ... COMMIT.
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                                       timeout=5.0, cached_statements=64)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)  # idempotent; concurrent openers wait on busy_timeout
        except sqlite3.Error as e:
            raise LedgerUnavailable(f"budget ledger {path.name} cannot be opened: {e}") from None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the process lock; sqlite errors become LedgerUnavailable."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise LedgerUnavailable(f"budget ledger is unavailable: {e}") from None
            try:
                yield db
                db.execute("COMMIT")
            except BaseException as e:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if isinstance(e, sqlite3.Error):
                    raise LedgerUnavailable(f"budget ledger is unavailable: {e}") from None
                raise

    def reserve(self, req: BudgetRequest) -> Reservation:
        """Hold the estimate on every applicable budget in one transaction, or raise BudgetExceeded."""
        now = self.acct.clock()
        plan = self.acct.plan(req, now)
        rid = new_reservation_id()
        if not plan.applied:
            return self.acct.reservation(plan, rid, now, [])
        with self._tx() as db:
            states: list[CounterState] = []
            for a in plan.applied:
                row = db.execute(_SELECT, (a.key,)).fetchone()
                states.append(row if row else ZERO)
            exc = self.acct.exceeded(plan, states)
            if exc is not None:
                raise exc  # rolls back: nothing was written
            db.executemany(_UPSERT, [(a.key, a.rule.name, a.subject, a.period, 0, 0, plan.tokens, plan.nano)
                                     for a in plan.applied])
            db.execute(_INSERT_RES, (rid, "\n".join(a.key for a in plan.applied), plan.tokens, plan.nano,
                                     now, now + self.acct.config.reservation_ttl_s))
        return self.acct.reservation(plan, rid, now, states)

    def _close(self, res: Reservation, status: str, tokens: int, nano: int) -> None:
        """Settle or release: undo the hold if still open, charge (tokens, nano), mark closed."""
        if not res.keys:
            return
        now = self.acct.clock()
        with self._tx() as db:
            row = db.execute(_GET_RES, (res.id,)).fetchone()
            state = row[0] if row else None
            if state in ("settled", "released"):
                return  # idempotent: a second settle/release changes nothing
            if state is None and status == "released":
                return
            held_t, held_n = (row[1], row[2]) if state == "open" else (0, 0)
            if tokens or nano or held_t or held_n:
                db.executemany(_UPSERT, [(k, *_split_key(k), tokens, nano, -held_t, -held_n) for k in res.keys])
            if row:
                db.execute(_CLOSE_RES, (status, now, res.id))

    def settle(self, res: Reservation, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> None:
        """Replace the hold by actual usage; after expiry the usage is still charged, once."""
        nano = self.acct.prices.cost_nano(res.model, input_tokens, output_tokens, cached_tokens)
        self._close(res, "settled", max(0, input_tokens) + max(0, output_tokens), nano)

    def release(self, res: Reservation) -> None:
        """Drop the hold without charging."""
        self._close(res, "released", 0, 0)

    def reconcile(self) -> int:
        """Expire open reservations past their TTL and forget long-closed ones."""
        now = self.acct.clock()
        with self._tx() as db:
            rows = db.execute("SELECT id, keys, tokens, nano FROM reservations WHERE status = 'open' AND expires < ?",
                              (now,)).fetchall()
            for rid, keys, tokens, nano in rows:
                db.executemany(_UPSERT, [(k, *_split_key(k), 0, 0, -tokens, -nano) for k in keys.split("\n")])
                db.execute(_CLOSE_RES, ("expired", now, rid))
            db.execute("DELETE FROM reservations WHERE status != 'open' AND closed < ?", (now - CLOSED_RETENTION_S,))
        if rows:
            log.warning("budget ledger: expired %d reservation(s) left by crashed or stuck requests", len(rows))
        return len(rows)

    def _states(self, keys: list[str]) -> list[CounterState]:
        with self._lock:
            try:
                out = []
                for k in keys:
                    row = self._db.execute(_SELECT, (k,)).fetchone()
                    out.append(row if row else ZERO)
                return out
            except sqlite3.Error as e:
                raise LedgerUnavailable(f"budget ledger is unavailable: {e}") from None

    def remaining(self, req: BudgetRequest | Principal, provider: str = "", model: str = "") -> dict[str, Any]:
        """Least tokens/USD left over the budgets that apply, without holding anything."""
        now = self.acct.clock()
        applied = self.acct.applied_for(self.acct.subject_of(req, provider, model), now)
        return self.acct.remaining(applied, self._states([a.key for a in applied]))

    def report(self, user: str | None = None, team: str | None = None) -> list[dict[str, Any]]:
        """Usage against limits in the current windows."""
        now = self.acct.clock()
        rows: list[dict[str, Any]] = []
        for rule, wanted in self.acct.report_rules(user, team):
            period = period_key(rule.window, now)
            with self._lock:
                try:
                    found = self._db.execute(
                        "SELECT subject, settled_tokens, settled_nano, reserved_tokens, reserved_nano "
                        "FROM counters WHERE budget = ? AND period = ?", (rule.name, period)).fetchall()
                except sqlite3.Error as e:
                    raise LedgerUnavailable(f"budget ledger is unavailable: {e}") from None
            counters = {r[0]: (r[1], r[2], r[3], r[4]) for r in found}
            rows.extend(self.acct.report_rows(rule, now, counters, wanted))
        return rows

    def cost_usd(self, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """Cost in USD under the current price table."""
        return self.acct.prices.cost_usd(model, input_tokens, output_tokens, cached_tokens)

    def close(self) -> None:
        """Close the connection (a later call raises LedgerUnavailable)."""
        with self._lock:
            self._db.close()
