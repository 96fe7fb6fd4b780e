"""ClickHouse DDL for deployments, rendered from the one set of migrations in audit/migrations.

Two outputs, both generated (never edited by hand) and checked for drift by tests/deploy:

- ``init/01_customs_schema.sql``: the single-node schema, for the ClickHouse image's
  /docker-entrypoint-initdb.d in docker-compose (the same DDL the proxy itself would apply).
- ``cluster.sql``: the cluster schema. Each migration table ``T`` becomes ``T_local``
  (Replicated*MergeTree, ON CLUSTER) plus ``T`` (a Distributed table over ``T_local``), and each
  materialized view reads and writes the local tables, so roll-ups are computed on the shard that
  holds the rows. The proxy and the named queries keep using the plain names, which are now the
  Distributed tables.

Both files record the migrations in ``schema_migrations`` so the proxy's own migrate() finds
them applied and does not try its single-node DDL.

Run: python -m deploy.clickhouse.make_cluster_ddl [--cluster customs] [--check]
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import asdict
from pathlib import Path
from string import Template

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from audit.schema import MIGRATIONS_DIR, SCHEMA_MIGRATIONS_DDL, DdlParams, load_migrations  # noqa: E402

HERE = Path(__file__).resolve().parent
CLUSTER_SQL = HERE / "cluster.sql"
SINGLE_NODE_SQL = HERE / "init" / "01_customs_schema.sql"
DATABASE = "customs"
CLUSTER = "customs"
# Sharding keys of the tables the proxy inserts into. Rows of one user stay on one shard (per-user
# scans, ReplacingMergeTree dedup by id); a deterministic key also means a retried batch splits
# the same way, so each shard's insert-token dedup still applies. Roll-ups are written by the
# materialized views on the shard itself, so their Distributed tables are read-only: no key.
SHARDING_KEYS = {"events": "cityHash64(team, user)", "acceptances": "cityHash64(user)",
                 "query_log": "cityHash64(principal)"}
# schema_migrations is replicated to every node (one replica set for the whole cluster, no
# {shard} in its path): whichever node the proxy connects to sees the same applied versions.
SCHEMA_MIGRATIONS_REPLICATION = "'/clickhouse/tables/all/{database}/{table}', '{replica}'"

_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER (\w+)\s*\n", re.S)
_CREATE_MV = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) ON CLUSTER (\w+) TO (\w+) AS\b")
_FROM = re.compile(r"\bFROM (\w+)\b")


def _render(template: str, params: DdlParams) -> str:
    return Template(template).substitute({k: str(v) for k, v in asdict(params).items()})


def _migration_records(directory: Path) -> str:
    rows = ", ".join(f"({m.version}, '{m.name}', '{m.checksum}')" for m in load_migrations(directory))
    return f"INSERT INTO schema_migrations (version, name, checksum) VALUES {rows}"


def local_name(table: str) -> str:
    """The name of the replicated shard-local table behind Distributed table `table`."""
    return f"{table}_local"


def cluster_statements(cluster: str = CLUSTER, database: str = DATABASE,
                       directory: Path = MIGRATIONS_DIR) -> list[str]:
    """The cluster DDL as statements: Replicated local tables, Distributed tables, local MVs."""
    params = DdlParams.for_cluster(cluster)
    out = [f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster}", f"USE {database}"]
    sm = DdlParams(on_cluster=params.on_cluster, engine_prefix="Replicated",
                   replication_args=SCHEMA_MIGRATIONS_REPLICATION)
    out.append(_render(SCHEMA_MIGRATIONS_DDL, sm))
    for mig in load_migrations(directory):
        for stmt in mig.statements(params):
            if m := _CREATE_TABLE.match(stmt):
                table = m.group(1)
                out.append(_CREATE_TABLE.sub(
                    f"CREATE TABLE IF NOT EXISTS {local_name(table)} ON CLUSTER {cluster}\n", stmt, count=1))
                key = f", {SHARDING_KEYS[table]}" if table in SHARDING_KEYS else ""
                out.append(
                    f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER {cluster} AS {local_name(table)}\n"
                    f"ENGINE = Distributed({cluster}, {database}, {local_name(table)}{key})")
            elif m := _CREATE_MV.match(stmt):
                view, _, target = m.groups()
                head = f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} ON CLUSTER {cluster} TO {local_name(target)} AS"
                body = _FROM.sub(lambda f: f"FROM {local_name(f.group(1))}", stmt[m.end():], count=1)
                out.append(head + body)
            else:
                raise ValueError(f"migration {mig.version}_{mig.name}: no cluster rule for statement: {stmt[:80]}")
    out.append(_migration_records(directory))
    return out


def single_node_statements(database: str = DATABASE, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """The single-node schema (the proxy's own migrate(), written out for init scripts)."""
    params = DdlParams()
    out = [f"CREATE DATABASE IF NOT EXISTS {database}", f"USE {database}", _render(SCHEMA_MIGRATIONS_DDL, params)]
    for mig in load_migrations(directory):
        out.extend(mig.statements(params))
    out.append(_migration_records(directory))
    return out


_HEADER = """-- GENERATED by deploy/clickhouse/make_cluster_ddl.py from audit/migrations/*.sql; do not edit.
-- Regenerate: .venv/bin/python -m deploy.clickhouse.make_cluster_ddl
"""

_CLUSTER_NOTE = """-- Cluster `{cluster}` must exist in remote_servers, with the {{shard}} and {{replica}} macros
-- and ClickHouse Keeper configured. Apply once, from any node:
--   clickhouse-client --multiquery < cluster.sql
-- Point the proxies at any node (or a load balancer): audit.clickhouse_url http://HOST:8123/{database}.
-- Inserts go to the Distributed `events`; set distributed_foreground_insert=1 on the proxy's
-- ClickHouse user profile so the insert-deduplication token reaches the shards synchronously.
"""


def to_sql(statements: list[str], note: str = "") -> str:
    """Statements as one SQL file: the generated header, then `;`-terminated statements."""
    return _HEADER + note + "\n" + "".join(s.rstrip() + ";\n\n" for s in statements).rstrip() + "\n"


def render_cluster_sql(cluster: str = CLUSTER, database: str = DATABASE) -> str:
    """The full text of cluster.sql."""
    return to_sql(cluster_statements(cluster, database), _CLUSTER_NOTE.format(cluster=cluster, database=database))


def render_single_node_sql(database: str = DATABASE) -> str:
    """The full text of the single-node init script."""
    return to_sql(single_node_statements(database))


def split_sql(text: str) -> list[str]:
    """Split a generated file back into statements (comment lines dropped)."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


_ON_CLUSTER = re.compile(r"\s+ON CLUSTER \w+")
_REPLICATED = re.compile(r"\bReplicated(\w*MergeTree)\('[^']*', '[^']*'\)")
_DISTRIBUTED = re.compile(r"\bDistributed\((\w+), (\w+), (\w+)(?:, [^\n]*)?\)$", re.M)


def strip_cluster_clauses(statement: str) -> str:
    """One cluster statement as a single server can run it (the drift test runs this on chDB).

    ON CLUSTER is dropped, Replicated*MergeTree(path, replica) becomes *MergeTree(), and a
    Distributed table becomes a Merge table over its local table (chDB has no cluster to
    distribute over; Merge gives the same read path over the same local table).
    """
    s = _ON_CLUSTER.sub("", statement)
    s = _REPLICATED.sub(lambda m: f"{m.group(1)}()", s)
    return _DISTRIBUTED.sub(lambda m: f"Merge({m.group(2)}, '^{m.group(3)}$')", s)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Render the ClickHouse deploy DDL from audit/migrations.")
    ap.add_argument("--cluster", default=CLUSTER)
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed files differ")
    args = ap.parse_args(argv)
    outputs = {CLUSTER_SQL: render_cluster_sql(args.cluster), SINGLE_NODE_SQL: render_single_node_sql()}
    stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"stale: {p.relative_to(REPO)} (regenerate with python -m deploy.clickhouse.make_cluster_ddl)")
        return 1 if stale else 0
    for p, text in outputs.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        print(f"wrote {p.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
