"""One audit event per exchange, its table row, and the canonical form the hash chain covers."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Columns whose text may expire by TTL: the chain covers their digests, not the text itself,
# so retention can drop the text without breaking tamper evidence for the rest of the row.
TEXT_COLUMNS = ("prompt", "response")
FLOAT_COLUMNS = ("cost_usd", "latency_ms", "upstream_ms", "overhead_ms", "ttfb_ms")
INT_COLUMNS = ("status", "input_tokens", "output_tokens", "cached_tokens", "chain_seq")
BOOL_COLUMNS = ("stream", "allowed")
LIST_COLUMNS = ("roles", "reasons")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(slots=True)
class AuditEvent:
    """Everything recorded about one exchange. Text is already redacted by the caller."""

    id: str
    time: datetime
    user: str = ""
    team: str = ""
    roles: list[str] = field(default_factory=list)
    key_id: str = ""
    client: str = ""
    via: str = "gateway"
    provider: str = ""
    endpoint: str = ""
    model: str = ""
    host: str = ""
    region: str = ""
    stream: bool = False
    status: int = 0
    allowed: bool = True
    reasons: list[str] = field(default_factory=list)
    policy_revision: str = ""
    policy_input: str = ""
    finding_counts: dict[str, int] = field(default_factory=dict)
    audit_level: str = "full"
    prompt: str = ""
    response: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    upstream_ms: float = 0.0
    overhead_ms: float = 0.0
    ttfb_ms: float = 0.0
    error: str = ""
    request_id: str = ""
    # Filled by the Auditor, never by the caller.
    chain_id: str = ""
    chain_seq: int = 0
    prev_hash: str = ""
    hash: str = ""


def format_time(t: datetime) -> str:
    """UTC, millisecond precision: exactly how ClickHouse prints a DateTime64(3, 'UTC')."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    elif t.utcoffset():
        t = t.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{t.microsecond // 1000:03d}"
    )


def clean_text(s: str) -> str:
    """Text as it will be stored: valid UTF-8 (lone surrogates replaced)."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace").decode("utf-8")


def sha256_hex(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def event_row(ev: AuditEvent) -> dict[str, Any]:
    """The `events` table row for an event (JSONEachRow keys are column names)."""
    level = ev.audit_level if ev.audit_level in ("full", "metadata") else "metadata"
    prompt = clean_text(ev.prompt) if level == "full" else ""
    response = clean_text(ev.response) if level == "full" else ""
    return {
        "id": ev.id,
        "time": format_time(ev.time),
        "user": ev.user,
        "team": ev.team,
        "roles": [str(r) for r in ev.roles],
        "key_id": ev.key_id,
        "client": clean_text(ev.client),
        "via": ev.via,
        "provider": ev.provider,
        "endpoint": ev.endpoint,
        "model": ev.model,
        "host": ev.host,
        "region": ev.region,
        "stream": bool(ev.stream),
        "status": int(ev.status),
        "allowed": bool(ev.allowed),
        "reasons": [str(r) for r in ev.reasons],
        "policy_revision": ev.policy_revision,
        "policy_input": clean_text(ev.policy_input),
        "finding_counts": {str(k): int(v) for k, v in ev.finding_counts.items()},
        "audit_level": level,
        "prompt": prompt,
        "response": response,
        "prompt_sha256": sha256_hex(prompt),
        "response_sha256": sha256_hex(response),
        "input_tokens": int(ev.input_tokens),
        "output_tokens": int(ev.output_tokens),
        "cached_tokens": int(ev.cached_tokens),
        "cost_usd": round(float(ev.cost_usd), 9),
        "latency_ms": round(float(ev.latency_ms), 3),
        "upstream_ms": round(float(ev.upstream_ms), 3),
        "overhead_ms": round(float(ev.overhead_ms), 3),
        "ttfb_ms": round(float(ev.ttfb_ms), 3),
        "error": clean_text(ev.error),
        "request_id": ev.request_id,
        "chain_id": ev.chain_id,
        "chain_seq": int(ev.chain_seq),
        "prev_hash": ev.prev_hash,
        "hash": ev.hash,
    }


def canonical_json(row: dict[str, Any]) -> str:
    """Canonical JSON of a row, as written or as read back: sorted keys, fixed number formats.

    The text columns are left out (their sha256 columns stand in), and so are the chain links.
    """
    out = {k: row[k] for k in CANONICAL_KEYS}
    for k in FLOAT_COLUMNS:
        out[k] = f"{float(out[k]):.9f}"
    for k in INT_COLUMNS:
        out[k] = int(out[k])
    for k in BOOL_COLUMNS:
        out[k] = bool(out[k])
    out["finding_counts"] = {str(a): int(b) for a, b in sorted(out["finding_counts"].items())}
    # keys are already in sorted order, so no sort_keys pass is needed
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """hash = sha256(prev_hash + canonical JSON of the event)."""
    return hashlib.sha256((prev_hash + canonical_json(row)).encode("utf-8")).hexdigest()


EVENT_COLUMNS: tuple[str, ...] = tuple(event_row(AuditEvent(id="", time=datetime(2000, 1, 1, tzinfo=UTC))))
CANONICAL_KEYS: tuple[str, ...] = tuple(sorted(c for c in EVENT_COLUMNS if c not in TEXT_COLUMNS + ("hash", "prev_hash")))
