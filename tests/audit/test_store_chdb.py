"""The embedded chDB store: schema, roll-ups, named queries, query audit, idempotent shipping."""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit import AuditConfig, Auditor, open_auditor
from audit.auditor import KIND_EVENT
from audit.named_queries import QueryError
from audit.schema import DdlParams, load_migrations
from tests.audit.conftest import make_event


def test_migrations_are_recorded_once_and_rerunning_is_a_no_op(auditor: Auditor) -> None:
    from audit.schema import migrate

    store = auditor.store()
    versions = sorted(int(r["version"]) for r in store.select("SELECT version FROM schema_migrations FINAL"))
    assert versions == [m.version for m in load_migrations()]
    assert migrate(store, DdlParams()) == []


def test_events_table_is_partitioned_ordered_and_has_separate_ttls(auditor: Auditor) -> None:
    ddl = auditor.store().select("SELECT create_table_query AS q FROM system.tables WHERE name = 'events' AND database = currentDatabase()")[0]["q"]
    assert "PARTITION BY toYYYYMM(time)" in ddl
    assert "ORDER BY (team, user, time, id)" in ddl
    assert re.search(r"`prompt` String[^,]*TTL toDateTime\(time\) \+ toIntervalDay\(90\)", ddl)
    assert re.search(r"`response` String[^,]*TTL toDateTime\(time\) \+ toIntervalDay\(90\)", ddl)
    assert "TTL toDateTime(time) + toIntervalDay(730)" in ddl


def test_cluster_ddl_renders_replicated_on_cluster_from_the_same_files() -> None:
    stmts = [s for m in load_migrations() for s in m.statements(DdlParams.for_cluster("prod"))]
    assert any("CREATE TABLE IF NOT EXISTS events ON CLUSTER prod" in s for s in stmts)
    assert any("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')" in s for s in stmts)
    assert any("ReplicatedSummingMergeTree(" in s for s in stmts)


def test_named_queries_answer_from_recorded_events(auditor: Auditor) -> None:
    for i in range(40):
        kw: dict = {}
        if i % 5 == 0:
            kw = dict(allowed=False, status=403, reasons=["residency.region_not_allowed"], region="us")
        if i % 4 == 0:
            kw["finding_counts"] = {"AWS_ACCESS_KEY": 2, "EMAIL_ADDRESS": 1}
        auditor.record(make_event(i, **kw))
    auditor.record_acceptance("req-1", True, datetime.now(UTC), "dev1")
    auditor.record_acceptance("req-2", False, datetime.now(UTC), "dev1")
    auditor.record_acceptance("req-3", True, datetime.now(UTC), "dev2")
    assert auditor.flush(20)

    q = lambda name, **p: auditor.query(name, p, "auditor-1")  # noqa: E731
    secrets = {(r["team"], r["type"]): r["findings"] for r in q("secrets_pii_by_type_team", since="2d")}
    # i % 4 == 0 -> even i -> team payments; 10 such events with 2 AWS keys each
    assert secrets == {("payments", "AWS_ACCESS_KEY"): 20, ("payments", "EMAIL_ADDRESS"): 10}
    denials = q("denials_by_rule", since="2d")
    assert denials[0]["rule"] == "residency.region_not_allowed" and denials[0]["denials"] == 8
    assert len(q("residency_violations", since="2d")) == 8
    tokens = q("tokens_cost_by_team_model_day", since="2d")
    assert sum(r["requests"] for r in tokens) == 40
    assert sum(r["input_tokens"] for r in tokens) == sum(100 + i for i in range(40))
    assert round(sum(r["cost_usd"] for r in tokens), 6) == 0.04
    mine = q("tokens_cost_by_team_model_day", since="2d", user="dev1")
    assert sum(r["requests"] for r in mine) == 10
    lat = {r["provider"]: r for r in q("latency_quantiles_by_provider", since="2d")}
    # 200 responses only: 32 events, openai even i, anthropic odd i
    assert lat["openai"]["requests"] + lat["anthropic"]["requests"] == 32
    assert 100 <= lat["openai"]["p50_ms"] <= lat["openai"]["p95_ms"] <= lat["openai"]["p99_ms"] <= 140
    per_dev = q("requests_per_active_developer", since="2d")
    assert sum(r["requests"] for r in per_dev) == 40
    acc = q("copilot_acceptance_rate", since="2d")
    assert sum(r["shown"] for r in acc) == 3 and sum(r["accepted"] for r in acc) == 2
    activity = q("user_activity", since="2d", user="dev3")
    assert len(activity) == 10 and all(r["prompt"].startswith("prompt ") for r in activity)
    assert [r["revision"] for r in q("policy_changes", since="2d")] == ["rev-1"]


def test_every_query_is_itself_audited(auditor: Auditor) -> None:
    auditor.query("denials_by_rule", {"since": "1d"}, "alice")
    with pytest.raises(QueryError):
        auditor.query("no_such_query", {}, "mallory")
    assert auditor.flush(10)
    log = auditor.query("audit_queries", {"since": "1h"}, "bob")
    seen = {(r["principal"], r["name"], r["status"]) for r in log}
    assert ("alice", "denials_by_rule", "ok") in seen
    assert ("mallory", "no_such_query", "invalid") in seen


def test_metadata_audit_level_stores_no_text(auditor: Auditor) -> None:
    auditor.record(make_event(1, audit_level="metadata", prompt="secret plan", response="answer"))
    assert auditor.flush(10)
    row = auditor.store().select("SELECT prompt, response, audit_level FROM events")[0]
    assert row == {"prompt": "", "response": "", "audit_level": "metadata"}


def test_a_batch_shipped_before_a_crash_is_not_duplicated_on_replay(tmp_path: Path) -> None:
    """The shipper inserted a batch but died before moving its cursor: replay uses the same token."""
    cfg = AuditConfig(batch_max_events=7)
    a = open_auditor(cfg, tmp_path)
    a._stop.set()  # freeze the shipper; drive it by hand
    a._shipper.join(timeout=5)
    for i in range(20):
        a.record(make_event(i))
    batch = a._next_batch()
    assert batch is not None and len(batch.records[KIND_EVENT]) == 7
    a._ship(batch)  # the insert happened ...
    a.close()  # ... and the process "died" before committing the cursor
    b = open_auditor(cfg, tmp_path)
    try:
        assert b.flush(20)
        r = b.store().select("SELECT count() AS n, uniqExact(id) AS ids FROM events")[0]
        assert r == {"n": 20, "ids": 20}
        usage = b.store().select("SELECT sum(requests) AS n FROM usage_daily")[0]
        assert usage["n"] == 20  # the roll-up did not count the replayed batch twice
    finally:
        b.close()


def test_bind_rejects_bad_times_and_unknown_parameters(auditor: Auditor) -> None:
    q = auditor.queries["denials_by_rule"]
    with pytest.raises(QueryError):
        q.bind({"since": "yesterday-ish"})
    with pytest.raises(QueryError):
        q.bind({"user": "dev1"})  # denials_by_rule has no user filter
    assert q.bind({"since": "2026-01-01"})["since"] == "2026-01-01 00:00:00.000"


def test_changed_retention_is_applied_on_the_next_start(tmp_path: Path) -> None:
    open_auditor(AuditConfig(), tmp_path).close()
    a = open_auditor(AuditConfig(text_ttl_days=30, metadata_ttl_days=365), tmp_path)
    try:
        ddl = a.store().select("SELECT create_table_query AS q FROM system.tables WHERE name = 'events' AND database = currentDatabase()")[0]["q"]
        assert re.search(r"`prompt` String[^,]*TTL toDateTime\(time\) \+ toIntervalDay\(30\)", ddl)
        assert "TTL toDateTime(time) + toIntervalDay(365)" in ddl
        from audit.schema import apply_retention

        assert apply_retention(a.store(), DdlParams(text_ttl_days=30, metadata_ttl_days=365)) == []
    finally:
        a.close()


def test_a_record_the_store_refuses_is_set_aside_without_blocking_the_rest(auditor: Auditor) -> None:
    for i in range(10):
        auditor.record(make_event(i))
        if i == 6:
            auditor.spool.append(KIND_EVENT, b'{"id":"bad","status":"not a number"}')
    assert auditor.flush(20), auditor.last_ship_error
    assert auditor.store().select("SELECT count() AS n FROM events")[0]["n"] == 10
    assert auditor.metrics()["quarantined_total"] == 1
    kept = (auditor.spool.dir / "quarantine.jsonl").read_bytes()
    assert b'"id":"bad"' in kept and b'"table": "events"' in kept


def test_policy_inputs_serve_replay_with_decisions(auditor: Auditor) -> None:
    auditor.record(make_event(1, allowed=False, reasons=["residency.region_not_allowed"], policy_input='{"region":"us"}'))
    auditor.record(make_event(2, policy_input='{"region":"eu"}'))
    assert auditor.flush(10)
    rows = auditor.query("policy_inputs", {"since": "2d"}, "replayer")
    assert sorted((r["policy_input"], r["allowed"], r["reasons"]) for r in rows) == [
        ('{"region":"eu"}', True, []), ('{"region":"us"}', False, ["residency.region_not_allowed"])]
    assert {"id", "time", "audit_level"} <= set(rows[0])


def test_steady_traffic_ships_in_batches_of_an_interval_not_one_insert_per_event(tmp_path: Path) -> None:
    """Tiny inserts cost ClickHouse a part each (written, then merged): the shipper gathers."""
    a = open_auditor(AuditConfig(fsync_interval_ms=10, ship_interval_ms=300), tmp_path)
    inserts: list[int] = []
    store = a.store()
    real_insert = store.insert_jsonl

    def counting_insert(table: str, data: bytes, token: str) -> None:
        inserts.append(data.count(b"\n"))
        real_insert(table, data, token)

    store.insert_jsonl = counting_insert  # type: ignore[method-assign]
    try:
        for i in range(120):  # ~1.2 s of steady traffic, an event every 10 ms
            a.record(make_event(i))
            time.sleep(0.01)
        assert a.flush(timeout=30)
        assert sum(inserts) == 120 and a.shipped_total == 120
        assert len(inserts) <= 10, inserts  # ~4 intervals, not dozens of small inserts
    finally:
        a.close()
