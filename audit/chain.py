"""Tamper evidence: each event links to the one before it in its process's chain.

hash = sha256(prev_hash + canonical JSON of the event). The text columns are covered through
their sha256 columns, so TTL may drop the text while the chain still verifies; text that
disappears before its TTL is reported as tampering.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.event import EVENT_COLUMNS, TEXT_COLUMNS, chain_hash, sha256_hex

EMPTY_SHA = sha256_hex("")


@dataclass(slots=True)
class BrokenLink:
    chain_id: str
    chain_seq: int
    event_id: str
    reason: str


@dataclass(slots=True)
class VerifyResult:
    """Outcome of `customs audit verify`: ok, or the first broken link found."""

    ok: bool = True
    chains: int = 0
    events: int = 0
    first_broken: BrokenLink | None = None
    text_expired: int = 0
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "chains": self.chains,
            "events": self.events,
            "first_broken": None if self.first_broken is None else {
                "chain_id": self.first_broken.chain_id,
                "chain_seq": self.first_broken.chain_seq,
                "id": self.first_broken.event_id,
                "reason": self.first_broken.reason,
            },
            "text_expired": self.text_expired,
            "duplicates": self.duplicates,
            "notes": list(self.notes),
        }


def _parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def verify_chain(rows: Iterable[dict[str, Any]], result: VerifyResult, text_ttl_days: int, now: datetime) -> None:
    """Check one chain's rows, given in chain_seq order; record the first break in `result`."""
    expected: int | None = None
    prev = ""
    ttl = timedelta(days=text_ttl_days)
    result.chains += 1
    for row in rows:
        seq = int(row["chain_seq"])
        if expected is not None and seq == expected - 1 and row["hash"] == prev:
            result.duplicates += 1  # the same event twice (before a merge); not a break
            continue
        result.events += 1

        def broken(reason: str) -> None:
            result.ok = False
            result.first_broken = BrokenLink(row["chain_id"], seq, row["id"], reason)

        if expected is None:
            if seq != 0:
                result.notes.append(f"chain {row['chain_id']} starts at seq {seq} (earlier rows expired or missing)")
        elif seq != expected:
            return broken(f"events {expected}..{seq - 1} missing from the chain")
        elif row["prev_hash"] != prev:
            return broken("prev_hash does not match the previous event's hash")
        for col in TEXT_COLUMNS:
            digest = row[f"{col}_sha256"]
            if f"{col}_empty" in row:  # digest checked by the store: the text never left it
                empty, matches = bool(row[f"{col}_empty"]), bool(row[f"{col}_ok"])
            else:
                empty, matches = not row[col], sha256_hex(row[col]) == digest
            if not empty:
                if not matches:
                    return broken(f"{col} text altered")
            elif digest != EMPTY_SHA:
                if now - _parse_time(row["time"]) >= ttl:
                    result.text_expired += 1
                else:
                    return broken(f"{col} text removed before its retention ended")
        if chain_hash(row["prev_hash"], row) != row["hash"]:
            return broken("event fields altered (hash mismatch)")
        prev = row["hash"]
        expected = seq + 1


def verify_store(stream: Callable[[str], Iterator[dict[str, Any]]], text_ttl_days: int) -> VerifyResult:
    """Walk every chain in the events table in one ordered stream and verify it."""
    result = VerifyResult()
    now = datetime.now(UTC)
    # Text digests are compared inside the store, so megabytes of prompt text need not travel.
    cols = ", ".join(
        [f"`{c}`" for c in EVENT_COLUMNS if c not in TEXT_COLUMNS]
        + [f"{c} = '' AS {c}_empty, lower(hex(SHA256({c}))) = {c}_sha256 AS {c}_ok" for c in TEXT_COLUMNS]
    )
    rows = stream(f"SELECT {cols} FROM events ORDER BY chain_id, chain_seq")
    try:
        for _, chain_rows in groupby(rows, key=lambda r: r["chain_id"]):
            verify_chain(chain_rows, result, text_ttl_days, now)
            if not result.ok:
                break
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # releases the connection when the walk stops early
    return result
