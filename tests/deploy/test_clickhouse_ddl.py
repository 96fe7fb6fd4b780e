"""The deploy DDL is generated from audit/migrations and cannot drift from the single-node schema."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


from deploy.clickhouse.make_cluster_ddl import (
    CLUSTER_SQL,
    SINGLE_NODE_SQL,
    cluster_statements,
    render_cluster_sql,
    render_single_node_sql,
    split_sql,
    strip_cluster_clauses,
)

REPO = Path(__file__).resolve().parents[2]


def test_committed_cluster_sql_equals_the_generated_one() -> None:
    assert CLUSTER_SQL.read_text() == render_cluster_sql(), \
        "deploy/clickhouse/cluster.sql is stale: run python -m deploy.clickhouse.make_cluster_ddl"


def test_committed_single_node_init_script_equals_the_generated_one() -> None:
    assert SINGLE_NODE_SQL.read_text() == render_single_node_sql()


def test_generator_check_mode_reports_fresh_files() -> None:
    out = subprocess.run([sys.executable, "-m", "deploy.clickhouse.make_cluster_ddl", "--check"], cwd=REPO,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout


def test_committed_file_splits_back_into_the_generated_statements() -> None:
    assert split_sql(CLUSTER_SQL.read_text()) == cluster_statements()


def test_every_cluster_table_is_replicated_on_cluster_and_fronted_by_distributed() -> None:
    stmts = cluster_statements(cluster="prod")
    creates = [s for s in stmts if s.startswith("CREATE TABLE")]
    assert all(" ON CLUSTER prod" in s for s in stmts if s.startswith("CREATE"))
    local = [s for s in creates if "_local ON CLUSTER" in s]
    assert {s.split()[5] for s in local} == {
        "events_local", "usage_daily_local", "latency_hourly_local", "acceptances_local", "query_log_local"}
    assert all("ENGINE = Replicated" in s and "'{replica}'" in s for s in local)
    assert "ENGINE = Distributed(prod, customs, events_local, cityHash64(team, user))" in "\n".join(stmts)
    views = [s for s in stmts if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) == 2 and all("FROM events_local" in v and " TO " in v and "_local AS" in v for v in views)


def test_stripping_removes_every_cluster_clause() -> None:
    text = "\n".join(strip_cluster_clauses(s) for s in cluster_statements())
    assert "ON CLUSTER" not in text and "Replicated" not in text and "Distributed" not in text
    assert "ENGINE = Merge(customs, '^events_local$')" in text


def test_stripped_cluster_ddl_executes_on_chdb(chdb_run: dict[str, Any]) -> None:
    engines = chdb_run["cluster_engines"]
    assert engines["events_local"] == "ReplacingMergeTree" and engines["events"] == "Merge"
    assert engines["usage_daily_mv"] == "MaterializedView"
    assert chdb_run["migrations"] == [1, 2, 3]


def test_cluster_tables_have_exactly_the_single_node_columns(chdb_run: dict[str, Any]) -> None:
    single, clus = chdb_run["single_columns"], chdb_run["cluster_columns"]
    tables = {t for t, e in chdb_run["single_engines"].items() if e != "MaterializedView" and t != "schema_migrations"}
    assert tables == {"events", "usage_daily", "latency_hourly", "acceptances", "query_log"}
    for t in tables:
        assert clus[t] == single[t], f"{t}: Distributed table drifted from the single-node schema"
        assert clus[f"{t}_local"] == single[t], f"{t}_local drifted from the single-node schema"


def test_named_queries_answer_from_the_cluster_schema_through_local_rollups(chdb_run: dict[str, Any]) -> None:
    q = chdb_run["queries"]
    tokens = {(r["team"], r["model"]): r["tokens"] for r in q["tokens_cost_by_team_model_day"]}
    assert tokens == {("payments", "gpt-4o"): 120, ("platform", "gpt-4o"): 10, ("payments", "claude-sonnet-4"): 0}
    assert q["secrets_pii_by_type_team"] == [
        {"team": "payments", "type": "AWS_ACCESS_KEY", "findings": 2, "requests": 1}]
    assert sum(r["requests"] for r in q["latency_quantiles_by_provider"]) == 2  # status < 400 only
    assert {r["id"] for r in q["user_activity"]} == {"e1", "e3"}


def test_regenerate_check_passes_for_every_generated_deploy_file() -> None:
    out = subprocess.run([sys.executable, "-m", "deploy.regenerate", "--check"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"stale generated files (run python -m deploy.regenerate):\n{out.stdout}"
