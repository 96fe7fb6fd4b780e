"""Configuration of the audit trail: where events are spooled and which store receives them."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, Self


@dataclass(slots=True)
class AuditConfig:
    """Settings for the spool, the shipper and the ClickHouse backend."""

    backend: str = "chdb"  # "chdb" (embedded, data in <data_dir>/chdb) | "clickhouse" (clickhouse-connect)
    clickhouse_url: str | None = None  # http://user:pw@host:8123/db ; env CLICKHOUSE_URL overrides
    spool_dir: str = "spool"  # relative to data_dir
    spool_max_bytes: int = 1 << 30
    fsync_interval_ms: int = 50  # group commit window: power loss costs at most this
    batch_max_events: int = 20000  # a batch is also bounded by its spool segment (<= 64 MB)
    # How long the shipper lets events gather before an insert: ClickHouse (and chDB in this
    # process) spends far less CPU on a few large inserts than on many small parts to merge.
    ship_interval_ms: int = 1000
    fail_closed: bool = True  # spool full/unwritable -> record() raises SpoolUnavailable
    text_ttl_days: int = 90
    metadata_ttl_days: int = 730
    database: str = "customs"  # chDB database name (a clickhouse_url names its own)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Self:
        """Build from a config mapping; unknown keys are an error, CLICKHOUSE_URL env wins."""
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown audit settings: {', '.join(sorted(unknown))}")
        cfg = cls(**d)
        env_url = os.environ.get("CLICKHOUSE_URL")
        if env_url:
            cfg.clickhouse_url = env_url
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Reject settings that cannot work, with a message that names the setting."""
        if self.backend not in ("chdb", "clickhouse"):
            raise ValueError(f"audit.backend must be chdb or clickhouse, not {self.backend!r}")
        if self.backend == "clickhouse" and not self.clickhouse_url:
            raise ValueError("audit.backend clickhouse needs audit.clickhouse_url (or CLICKHOUSE_URL)")
        for name in ("spool_max_bytes", "fsync_interval_ms", "batch_max_events", "ship_interval_ms", "text_ttl_days", "metadata_ttl_days"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"audit.{name} must be positive")
        if not self.database.replace("_", "").isalnum():
            raise ValueError("audit.database must be an identifier")
