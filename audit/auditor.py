"""The Auditor: record() appends to the spool on the caller's thread; a shipper thread moves
batches to ClickHouse with an idempotent insert token, retrying with backoff while it is down.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from audit.chain import VerifyResult, verify_store
from audit.config import AuditConfig
from audit.event import AuditEvent, chain_hash, event_row, format_time
from audit.scrub import Scrubber, scrub
from audit.named_queries import NamedQuery, QueryError, load_queries
from audit.schema import DdlParams, apply_retention, migrate
from audit.spool import Batch, Cursor, Spool, SpoolUnavailable
from audit.store import Store, StoreError

log = logging.getLogger(__name__)

KIND_EVENT, KIND_ACCEPTANCE, KIND_QUERY = b"e", b"a", b"q"
KIND_TABLES = {KIND_EVENT: "events", KIND_ACCEPTANCE: "acceptances", KIND_QUERY: "query_log"}
BACKOFF_MIN, BACKOFF_MAX = 0.05, 5.0
SCRUBBED_FIELDS = ("prompt", "response", "error", "policy_input", "client")


def _new_id() -> str:
    ms = time.time_ns() // 1_000_000
    return f"{ms:012x}{os.urandom(10).hex()}"


def _dumps(row: dict[str, Any]) -> bytes:
    # orjson: the spool line of an exchange carries its (redacted) prompt and answer, often
    # tens of KB; the stdlib encoder spent ~50 µs per event on the proxy's event loop.
    return orjson.dumps(row)


class Auditor:
    """Owns the spool, the hash chain of this process and the shipper thread."""

    def __init__(self, config: AuditConfig, data_dir: Path, store_factory: Callable[[], Store]) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self._store_factory = store_factory
        self._ddl = DdlParams(text_ttl_days=config.text_ttl_days, metadata_ttl_days=config.metadata_ttl_days)
        self.queries: dict[str, NamedQuery] = load_queries()
        self.spool = Spool(self.data_dir / config.spool_dir, config.spool_max_bytes, config.fsync_interval_ms)
        self._cursor = Cursor.load(self.spool.dir)
        # One chain per proxy process: its id is time-ordered, so chains sort by start.
        self.chain_id = _new_id()
        self._seq = 0
        self._prev_hash = ""
        self._record_lock = threading.Lock()
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self._inflight: Batch | None = None
        self._cursor_dirty = False
        self._progress = threading.Condition()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.shipped_total = 0
        self.ship_errors_total = 0
        self.corrupt_total = 0
        self.last_ship_error = ""
        self.scrubbed_total = 0
        self._scrubber = Scrubber()
        self.quarantined_total = 0
        self._pending_at_start = self._count_pending()
        self._written_at_start = self.spool.written_events
        self._shipped_lines = 0
        self._shipper = threading.Thread(target=self._ship_loop, name="audit-shipper", daemon=True)

    def start(self) -> None:
        self._shipper.start()

    # -- recording (the proxy's hot path) -----------------------------------------------------
    def record(self, event: AuditEvent) -> None:
        """Append one event to the durable spool (one write; microseconds). Fills chain fields."""
        scrubbed = 0
        for name in SCRUBBED_FIELDS:
            text, n = self._scrubber.scrub(getattr(event, name))
            if n:
                setattr(event, name, text)
                scrubbed += n
        with self._record_lock:
            self.scrubbed_total += scrubbed
            event.chain_id, event.chain_seq, event.prev_hash = self.chain_id, self._seq, self._prev_hash
            row = event_row(event)
            row["hash"] = event.hash = chain_hash(self._prev_hash, row)
            try:
                self.spool.append(KIND_EVENT, _dumps(row))
            except SpoolUnavailable:
                if self.config.fail_closed:
                    raise
                self.spool.dropped_events += 1
                log.warning("audit spool unavailable; event %s dropped (fail_closed=false)", event.id)
                return
            self._seq += 1
            self._prev_hash = event.hash

    def accepting(self, margin: int = 1 << 20) -> bool:
        """Whether the spool has room for more events (the proxy refuses new exchanges if not)."""
        return self.spool.size_bytes() + margin <= self.spool.max_bytes

    def record_acceptance(self, request_id: str, accepted: bool, time: datetime, user: str) -> None:
        """Record Copilot ghost-text telemetry: was the completion for request_id accepted."""
        row = {"id": _new_id(), "request_id": request_id, "time": format_time(time), "user": user, "accepted": bool(accepted)}
        self._append_other(KIND_ACCEPTANCE, row)

    def _append_other(self, kind: bytes, row: dict[str, Any]) -> None:
        try:
            self.spool.append(kind, _dumps(row))
        except SpoolUnavailable:
            if self.config.fail_closed:
                raise
            self.spool.dropped_events += 1

    # -- reading -------------------------------------------------------------------------------
    def query(self, name: str, params: dict, principal_id: str) -> list[dict]:
        """Run a named query; the call itself is recorded (who, what, when, outcome)."""
        t0 = time.perf_counter()
        status, error, rows = "ok", "", []
        try:
            q = self.queries.get(name)
            if q is None:
                raise QueryError(f"unknown query {name!r}")
            bound = q.bind({k: (None if v is None else str(v)) for k, v in params.items()})
            rows = self.store().select(q.sql, bound)
            return rows
        except QueryError as e:
            status, error = "invalid", str(e)
            raise
        except StoreError as e:
            status, error = "error", str(e)
            raise
        finally:
            self.log_access(principal_id, name, params, status, len(rows), (time.perf_counter() - t0) * 1000, error)

    def log_access(self, principal_id: str, name: str, params: dict, status: str, rows: int = 0,
                   duration_ms: float = 0.0, error: str = "") -> None:
        """Record one access to audit data (a query, a refusal, a verify) in query_log."""
        self._append_other(KIND_QUERY, {
            "id": _new_id(),
            "time": format_time(datetime.now(UTC)),
            "principal": principal_id,
            "name": name,
            "params": scrub(json.dumps({k: v for k, v in sorted(params.items()) if v not in (None, "")}, default=str))[0],
            "status": status,
            "rows": int(rows),
            "duration_ms": round(duration_ms, 3),
            "error": scrub(error[:300])[0],
        })

    def verify(self) -> VerifyResult:
        """Recompute every chain in the store; report the first broken link."""
        return verify_store(self.store().stream, self.config.text_ttl_days)

    def store(self) -> Store:
        """The backend connection, opened (and migrated) on first use."""
        with self._store_lock:
            if self._store is None:
                store = self._store_factory()
                try:
                    migrate(store, self._ddl)
                    apply_retention(store, self._ddl)
                except Exception:
                    store.close()
                    raise
                self._store = store
            return self._store

    def _drop_store(self) -> None:
        with self._store_lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    # -- shipping -------------------------------------------------------------------------------
    def _count_pending(self) -> int:
        n = 0
        for seg in self.spool.segments():
            if seg < self._cursor.segment:
                continue
            n += self.spool.count_records(seg, self._cursor.offset if seg == self._cursor.segment else 0)
        return n

    def _next_batch(self) -> Batch | None:
        if self._inflight is not None:
            return self._inflight
        while True:
            segs = self.spool.segments()
            cur = self._cursor
            if cur.segment not in segs:
                later = [s for s in segs if s > cur.segment]
                if not later:
                    return self._idle()
                self._cursor = cur = Cursor(later[0], 0, None)
            if cur.pending_end is not None:
                # A batch was in flight when the last process stopped: ship exactly that range
                # again, so its token matches the one the store may already have.
                batch = self.spool.read_range(cur.segment, cur.offset, cur.pending_end, 1 << 62)
                self._inflight = batch
                return batch
            finished = cur.segment != self.spool.active  # checked before reading: no writer now
            batch = self.spool.read_range(cur.segment, cur.offset, None, self.config.batch_max_events)
            if batch.end > batch.start:
                cur.pending_end = batch.end
                self._save_cursor()
                self._inflight = batch
                return batch
            if not finished:
                return self._idle()
            later = [s for s in segs if s > cur.segment]
            if not later:
                return self._idle()
            torn = self.spool.segment_size(cur.segment) - cur.offset
            if torn > 0:
                self.corrupt_total += 1
                log.warning("audit spool: %d torn bytes at the end of %s skipped", torn, cur.segment)
            self.spool.remove_segment(cur.segment)
            self._cursor = Cursor(later[0], 0, None)
            self._save_cursor()

    def _save_cursor(self) -> None:
        self._cursor.save(self.spool.dir)
        self._cursor_dirty = False

    def _idle(self) -> Batch | None:
        """Nothing to ship: persist the last commit before waiting."""
        if self._cursor_dirty:
            self._save_cursor()
        return None

    def _ship(self, batch: Batch) -> None:
        store = self.store()
        for kind, payloads in batch.records.items():
            table = KIND_TABLES.get(kind)
            if table is None:
                continue
            self._insert(store, table, payloads, f"{batch.token}:{table}")

    def _insert(self, store: Store, table: str, payloads: list[bytes], token: str) -> None:
        """Insert; when the data itself is refused, bisect to set the bad records aside.

        A parse error writes nothing, and the same records fail the same way again, so the
        halves and their tokens are the same on a replay: deduplication still holds.
        """
        try:
            store.insert_jsonl(table, b"\n".join(payloads) + b"\n", token)
        except StoreError as e:
            if not e.data_error:
                raise
            if len(payloads) == 1:
                self._quarantine(table, payloads[0], str(e))
                return
            mid = len(payloads) // 2
            self._insert(store, table, payloads[:mid], token + ":a")
            self._insert(store, table, payloads[mid:], token + ":b")

    def _quarantine(self, table: str, payload: bytes, error: str) -> None:
        """Keep a record the store refuses beside the spool (never dropped, never blocking the rest)."""
        path = self.spool.dir / "quarantine.jsonl"
        line = json.dumps({"table": table, "error": error}).encode() + b"\t" + payload + b"\n"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.quarantined_total += 1
        log.error("audit record refused by the store (%s); kept in %s", error, path)

    def _commit(self, batch: Batch) -> None:
        # Not saved here: until the next save the file still names this batch as pending, and
        # replaying it after a crash is a no-op (same range, same token). The next batch's
        # pending record (or the save before idling) carries this commit: one fsync per batch.
        self._cursor = Cursor(batch.segment, batch.end, None)
        self._cursor_dirty = True
        self._inflight = None
        with self._progress:
            self.shipped_total += batch.records.get(KIND_EVENT, []).__len__()
            self._shipped_lines += batch.count + batch.corrupt
            self.corrupt_total += batch.corrupt
            self._progress.notify_all()

    def _ship_loop(self) -> None:
        backoff = BACKOFF_MIN
        while not self._stop.is_set():
            try:
                batch = self._next_batch()
            except OSError as e:
                log.warning("audit spool read failed: %s", type(e).__name__)
                self._stop.wait(1.0)
                continue
            if batch is None:
                self.spool.appended.wait(timeout=0.5)
                self.spool.appended.clear()
                # let events gather so they become one insert rather than many small ones;
                # flush() and close() cut the wait short
                self._wake.wait(self.config.ship_interval_ms / 1000)
                self._wake.clear()
                continue
            try:
                self._ship(batch)
            except Exception as e:
                self.ship_errors_total += 1
                self.last_ship_error = str(e) if isinstance(e, StoreError) else type(e).__name__
                log.warning("audit ship failed (will retry in %.2fs): %s", backoff, self.last_ship_error)
                if not isinstance(e, StoreError) or self.config.backend == "clickhouse":
                    self._drop_store()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_MIN
            self._commit(batch)
            if self._lines_recorded() - self._shipped_lines < self.config.batch_max_events:
                # Caught up: gather the next events for an interval here too. Shipping again at
                # once would turn steady traffic into a stream of tiny inserts, each costing
                # ClickHouse a part to write and later merge (measured in chDB: ~2 ms of CPU per
                # event instead of ~0.3 ms). A backlog of a full batch or more ships without pause.
                self._wake.wait(self.config.ship_interval_ms / 1000)
                self._wake.clear()

    def _lines_recorded(self) -> int:
        return self._pending_at_start + self.spool.written_events - self._written_at_start

    def flush(self, timeout: float = 10) -> bool:
        """fsync, then wait until everything recorded so far is in the store."""
        self.spool.sync()
        self._wake.set()
        target = self._lines_recorded()
        deadline = time.monotonic() + timeout
        self.spool.appended.set()
        with self._progress:
            while self._shipped_lines < target:
                self._wake.set()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._progress.wait(min(left, 0.1))
        return True

    def metrics(self) -> dict[str, float]:
        """Gauges and counters for /metrics."""
        pending = max(0, self._lines_recorded() - self._shipped_lines)
        return {
            "spool_bytes": float(self.spool.size_bytes()),
            "spool_max_bytes": float(self.spool.max_bytes),
            "spool_events_pending": float(pending),
            "spool_dropped_total": float(self.spool.dropped_events),
            "spool_corrupt_total": float(self.corrupt_total),
            "shipped_total": float(self.shipped_total),
            "ship_errors_total": float(self.ship_errors_total),
            "scrubbed_secrets_total": float(self.scrubbed_total),
            "quarantined_total": float(self.quarantined_total),
        }

    def close(self) -> None:
        """Stop shipping (what is unshipped stays in the spool for the next start) and release all."""
        self._stop.set()
        self._wake.set()
        self.spool.appended.set()
        if self._shipper.is_alive():
            self._shipper.join(timeout=30)
        if self._cursor_dirty and not self._shipper.is_alive():
            self._save_cursor()
        self.spool.close()
        self._drop_store()


def open_auditor(config: AuditConfig, data_dir: Path) -> Auditor:
    """Open the spool and the configured backend and start shipping (replaying what was spooled)."""
    data_dir = Path(data_dir)
    if config.backend == "chdb":
        from audit.chdb_store import ChdbStore

        def factory() -> Store:
            return ChdbStore(data_dir / "chdb", config.database)
    else:
        from audit.clickhouse_store import ClickHouseStore

        url = config.clickhouse_url or ""

        def factory() -> Store:
            return ClickHouseStore(url)

    auditor = Auditor(config, data_dir, factory)
    if config.backend == "chdb":
        auditor.store()  # in process: a failure here is a configuration error, report it now
    auditor.start()
    return auditor
