"""Run in its own process (chDB holds one data path per process): apply the single-node schema
and the cluster schema with its cluster clauses stripped side by side in one chDB, insert a few
events into the cluster's local table, run every named query there, and print what was seen as
JSON for tests/deploy/test_clickhouse_ddl.py to assert on.

Usage: python -m tests.deploy.chdb_ddl_check DATA_DIR
"""
from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import chdb.session

from audit.named_queries import load_queries
from deploy.grafana.make_dashboards import DASHBOARDS, dashboard
from deploy.clickhouse.make_cluster_ddl import (
    cluster_statements,
    single_node_statements,
    strip_cluster_clauses,
)

SINGLE, CLUSTER = "single", "clus"


def _columns(session: chdb.session.Session, db: str) -> dict[str, list[list[str]]]:
    rows = session.query(
        f"SELECT table, name, type FROM system.columns WHERE database = '{db}' ORDER BY table, position",
        "JSONEachRow").bytes().decode()
    out: dict[str, list[list[str]]] = {}
    for line in rows.splitlines():
        r = json.loads(line)
        out.setdefault(r["table"], []).append([r["name"], r["type"]])
    return out


def _engines(session: chdb.session.Session, db: str) -> dict[str, str]:
    rows = session.query(f"SELECT name, engine FROM system.tables WHERE database = '{db}'", "JSONEachRow")
    return {r["name"]: r["engine"] for r in map(json.loads, rows.bytes().decode().splitlines())}


def main(path: str) -> int:
    s = chdb.session.Session(path)
    for stmt in single_node_statements(database=SINGLE):
        s.query(stmt)
    executed = []
    for stmt in cluster_statements(database=CLUSTER):
        stripped = strip_cluster_clauses(stmt)
        s.query(stripped)
        executed.append(stripped)
    s.query(f"USE {CLUSTER}")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    s.query(
        "INSERT INTO events_local (id, time, user, team, provider, model, status, allowed, "
        "input_tokens, output_tokens, cost_usd, latency_ms, finding_counts) VALUES "
        f"('e1', '{now}', 'alice', 'payments', 'openai', 'gpt-4o', 200, true, 100, 20, 0.5, 12.5, map('AWS_ACCESS_KEY', 2)), "
        f"('e2', '{now}', 'bob', 'platform', 'openai', 'gpt-4o', 200, true, 7, 3, 0.25, 30.0, map()), "
        f"('e3', '{now}', 'alice', 'payments', 'anthropic', 'claude-sonnet-4', 403, false, 0, 0, 0, 1.0, map())")
    results: dict[str, list[dict]] = {}
    for name, q in load_queries().items():
        params = q.bind({"user": "alice"} if name == "user_activity" else {})
        res = s.query(q.sql, "JSONEachRow", params=params)
        results[name] = [json.loads(line) for line in res.bytes().decode().splitlines()]
    # What Grafana would send for the last 7 days with the team/user variables empty.
    grafana_macros = {"$__fromTime": "toDateTime(now() - 7 * 86400)", "$__toTime": "toDateTime(now() + 1)",
                      "${team:sqlstring}": "''", "${user:sqlstring}": "'alice'"}
    panels: dict[str, int] = {}
    for uid in DASHBOARDS:
        for panel in dashboard(uid)["panels"]:
            sql = panel["targets"][0]["rawSql"]
            for macro, value in grafana_macros.items():
                sql = sql.replace(macro, value)
            rows = s.query(sql, "JSONEachRow").bytes().decode().splitlines()
            panels[f"{uid}/{panel['title']}"] = len(rows)
    migrations = s.query("SELECT version FROM schema_migrations ORDER BY version", "JSONEachRow").bytes().decode()
    print(json.dumps({
        "single_columns": _columns(s, SINGLE),
        "cluster_columns": _columns(s, CLUSTER),
        "cluster_engines": _engines(s, CLUSTER),
        "single_engines": _engines(s, SINGLE),
        "executed": executed,
        "queries": results,
        "grafana_panels": panels,
        "migrations": [json.loads(line)["version"] for line in migrations.splitlines()],
    }))
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
