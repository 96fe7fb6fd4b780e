"""Versioned migrations: audit/migrations/NNNN_name.sql applied once each, recorded in schema_migrations.

The files are parameterised (`${name}` placeholders) so the same DDL renders for a single
server/chDB or, through `DdlParams.for_cluster`, as Replicated engines with ON CLUSTER.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template
from typing import Protocol, Self

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class DdlTarget(Protocol):
    def execute(self, sql: str) -> None: ...
    def select(self, sql: str, params: dict[str, str] | None = None) -> list[dict]: ...


@dataclass(frozen=True, slots=True)
class DdlParams:
    """Values for the DDL placeholders."""

    on_cluster: str = ""
    engine_prefix: str = ""
    replication_args: str = ""
    text_ttl_days: int = 90
    metadata_ttl_days: int = 730

    @classmethod
    def for_cluster(cls, cluster: str, text_ttl_days: int = 90, metadata_ttl_days: int = 730) -> Self:
        """Replicated engines created ON CLUSTER (zookeeper path per shard, table and replica)."""
        return cls(
            on_cluster=f"ON CLUSTER {cluster}",
            engine_prefix="Replicated",
            replication_args="'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'",
            text_ttl_days=text_ttl_days,
            metadata_ttl_days=metadata_ttl_days,
        )


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def statements(self, params: DdlParams) -> list[str]:
        """The rendered statements, comments dropped, split on `;` at line ends."""
        rendered = Template(self.text).substitute({k: str(v) for k, v in asdict(params).items()})
        body = "\n".join(line for line in rendered.splitlines() if not line.lstrip().startswith("--"))
        return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migration files, in version order; duplicate versions are an error."""
    out: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise ValueError(f"migration file name must be NNNN_name.sql: {path.name}")
        out.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise ValueError("duplicate migration versions")
    return out


SCHEMA_MIGRATIONS_DDL = """CREATE TABLE IF NOT EXISTS schema_migrations ${on_cluster}
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = ${engine_prefix}ReplacingMergeTree(${replication_args})
ORDER BY version"""


def migrate(target: DdlTarget, params: DdlParams, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply the migrations not yet recorded; return the versions applied now."""
    target.execute(Template(SCHEMA_MIGRATIONS_DDL).substitute({k: str(v) for k, v in asdict(params).items()}))
    done = {int(r["version"]) for r in target.select("SELECT version FROM schema_migrations")}
    applied: list[int] = []
    for mig in load_migrations(directory):
        if mig.version in done:
            continue
        # Statements are IF NOT EXISTS, so a crash between a statement and the record is safe.
        for stmt in mig.statements(params):
            target.execute(stmt)
        target.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES "
            f"({mig.version}, '{mig.name}', '{mig.checksum}')"
        )
        applied.append(mig.version)
    return applied


# Row TTL per table (the expression the migrations use) and the columns whose text expires sooner.
ROW_TTL = {
    "events": "toDateTime(time)",
    "acceptances": "toDateTime(time)",
    "query_log": "toDateTime(time)",
    "usage_daily": "day",
    "latency_hourly": "hour",
}
TEXT_TTL_COLUMNS = {"events": ("prompt", "response")}


def apply_retention(target: DdlTarget, params: DdlParams) -> list[str]:
    """Bring the TTLs in line with the configured retention (the migrations baked in the values
    current when they ran). Returns the statements issued; none when nothing changed."""
    issued: list[str] = []
    for table, expr in ROW_TTL.items():
        rows = target.select(
            "SELECT create_table_query AS q FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
            {"t": table},
        )
        if not rows:
            continue
        ddl = rows[0]["q"]
        want_row = f"TTL {expr} + toIntervalDay({params.metadata_ttl_days})"
        if want_row not in ddl:
            issued.append(f"ALTER TABLE {table} {params.on_cluster} MODIFY TTL {expr} + INTERVAL {params.metadata_ttl_days} DAY")
        for col in TEXT_TTL_COLUMNS.get(table, ()):
            m = re.search(rf"`{col}` String[^,]*?TTL toDateTime\(time\) \+ toIntervalDay\((\d+)\)", ddl)
            if m is None or int(m.group(1)) != params.text_ttl_days:
                issued.append(
                    f"ALTER TABLE {table} {params.on_cluster} MODIFY COLUMN {col} String CODEC(ZSTD(1)) "
                    f"TTL toDateTime(time) + INTERVAL {params.text_ttl_days} DAY"
                )
    for stmt in issued:
        target.execute(stmt)
    return issued
