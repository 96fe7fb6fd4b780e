"""The embedded ledger: one SQLite file in the data dir (WAL), safe across threads and processes.

Every change is one `BEGIN IMMEDIATE` transaction, which takes SQLite's write lock up front:
the read-check-write of a reservation cannot interleave with another process's. Within the
process a lock serialises the one shared connection.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from proxy.budgets.accounting import ZERO, Accountant, CounterState, new_reservation_id
from proxy.budgets.counter_ledger import CounterLedger
from proxy.budgets.ledger import BudgetRequest, LedgerUnavailable, Reservation
from proxy.budgets.windows import period_key

log = logging.getLogger(__name__)

# Expired reservations are remembered this long so that a late settle still charges its usage.
EXPIRED_RETENTION_S = 86400.0

# `reservations` holds only what is in flight (open) and, for a day, what reconcile expired:
# settle/release delete the row, which keeps the table and every write transaction small.
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
"""

_COLUMNS = "key, settled_tokens, settled_nano, reserved_tokens, reserved_nano"
_SELECT = f"SELECT {_COLUMNS} FROM counters WHERE key = ?"
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
_TAKE_RES = "DELETE FROM reservations WHERE id = ? RETURNING status, tokens, nano"


def _retry_locked(step: Callable[[], object], timeout_s: float = 10.0) -> None:
    """Run a setup step, retrying while another process holds a lock SQLite will not wait on."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _split_key(key: str) -> tuple[str, str, str]:
    budget, subject, period = key.split("|")
    return budget, subject, period


class SqliteLedger(CounterLedger):
    """Ledger on one SQLite file; see the module docstring for the concurrency argument."""

    def __init__(self, path: Path, accountant: Accountant) -> None:
        self.path = path
        self.acct = accountant
        self._lock = threading.Lock()
        self._select_many: dict[int, str] = {}  # statement text per key count; sqlite3 caches the prepared form
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are explicit BEGIN IMMEDIATE ... COMMIT.
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                                       timeout=5.0, cached_statements=64)
            self._db.execute("PRAGMA busy_timeout=5000")
            _retry_locked(lambda: self._db.execute("PRAGMA journal_mode=WAL"))
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints (which fsync) run on a background thread, not inside a commit on the
            # proxy loop; the WAL file is truncated back to a few MB after each one.
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._db.execute("PRAGMA journal_size_limit=4194304")
            # IMMEDIATE: a deferred read-then-write could fail at once (no busy wait) when
            # another process creates the schema at the same moment.
            _retry_locked(self._create_schema)
            self._checkpointer = Checkpointer(path)
        except sqlite3.Error as e:
            raise LedgerUnavailable(f"budget ledger {path.name} cannot be opened: {e}") from None

    def _create_schema(self) -> None:
        try:
            self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

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
        if self.acct.sweep_due(now):
            self._sweep()
        plan = self.acct.plan(req, now)
        rid = new_reservation_id()
        if not plan.applied:
            return self.acct.reservation(plan, rid, now, [])
        with self._tx() as db:
            states = self._read(db, [a.key for a in plan.applied])
            exc = self.acct.exceeded(plan, states)
            if exc is not None:
                raise exc  # rolls back: nothing was written
            db.executemany(_UPSERT, [(a.key, a.rule.name, a.subject, a.period, 0, 0, plan.tokens, plan.nano)
                                     for a in plan.applied])
            db.execute(_INSERT_RES, (rid, "\n".join(a.key for a in plan.applied), plan.tokens, plan.nano,
                                     now, now + self.acct.config.reservation_ttl_s))
        return self.acct.reservation(plan, rid, now, states)

    def _close(self, res: Reservation, settle: bool, tokens: int, nano: int) -> None:
        """Settle or release: undo the hold if still open, charge (tokens, nano), forget the row."""
        if not res.keys:
            return
        with self._tx() as db:
            row = db.execute(_TAKE_RES, (res.id,)).fetchone()
            if row is None:
                return  # already settled or released: a second call changes nothing
            status, held_t, held_n = row
            if status != "open":  # expired by reconcile: its hold is already gone
                held_t = held_n = 0
            if not settle:
                tokens = nano = 0
            if tokens or nano or held_t or held_n:
                db.executemany(_UPSERT, [(k, *_split_key(k), tokens, nano, -held_t, -held_n) for k in res.keys])


    def reconcile(self) -> int:
        """Expire open reservations past their TTL and forget long-closed ones."""
        now = self.acct.clock()
        with self._tx() as db:
            rows = db.execute("SELECT id, keys, tokens, nano FROM reservations WHERE status = 'open' AND expires < ?",
                              (now,)).fetchall()
            for rid, keys, tokens, nano in rows:
                db.executemany(_UPSERT, [(k, *_split_key(k), 0, 0, -tokens, -nano) for k in keys.split("\n")])
                db.execute("UPDATE reservations SET status = 'expired', closed = ? WHERE id = ?", (now, rid))
            db.execute("DELETE FROM reservations WHERE status = 'expired' AND closed < ?", (now - EXPIRED_RETENTION_S,))
        if rows:
            log.warning("budget ledger: expired %d reservation(s) left by crashed or stuck requests", len(rows))
        return len(rows)

    def _read(self, db: sqlite3.Connection, keys: list[str]) -> list[CounterState]:
        """Counter states in the order of `keys` (one statement; absent counters are zero)."""
        if len(keys) == 1:
            row = db.execute(_SELECT, (keys[0],)).fetchone()
            return [row[1:] if row else ZERO]
        sql = self._select_many.get(len(keys))
        if sql is None:
            sql = self._select_many[len(keys)] = f"SELECT {_COLUMNS} FROM counters WHERE key IN ({','.join('?' * len(keys))})"
        found = {r[0]: r[1:] for r in db.execute(sql, keys)}
        return [found.get(k, ZERO) for k in keys]

    def _states(self, keys: list[str]) -> list[CounterState]:
        with self._lock:
            try:
                return self._read(self._db, keys)
            except sqlite3.Error as e:
                raise LedgerUnavailable(f"budget ledger is unavailable: {e}") from None


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
                        "FROM counters WHERE key > ? AND key < ? AND period = ?",  # primary-key range
                        (rule.name + "|", rule.name + "}", period)).fetchall()
                except sqlite3.Error as e:
                    raise LedgerUnavailable(f"budget ledger is unavailable: {e}") from None
            counters = {r[0]: (r[1], r[2], r[3], r[4]) for r in found}
            rows.extend(self.acct.report_rows(rule, now, counters, wanted))
        return rows


    def close(self) -> None:
        """Stop the checkpointer and close the connection (a later call raises LedgerUnavailable)."""
        self._checkpointer.stop()
        with self._lock:
            self._db.close()


class Checkpointer:
    """Checkpoints the WAL every `interval_s` from its own thread and connection."""

    def __init__(self, path: Path, interval_s: float = 1.0) -> None:
        self._path = path
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="budget-ledger-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        db = None
        try:
            db = sqlite3.connect(str(self._path), isolation_level=None, timeout=5.0)
            db.execute("PRAGMA busy_timeout=1000")
            while not self._stop.wait(self._interval):
                try:
                    # PASSIVE never blocks the writers; what it cannot copy now it copies next time.
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as e:
                    log.warning("budget ledger checkpoint failed: %s", e)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as e:
            log.warning("budget ledger checkpointer stopped: %s", e)
        finally:
            if db is not None:
                db.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
