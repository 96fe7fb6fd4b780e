"""The clickhouse-connect backend, against the loopback ClickHouse HTTP endpoint (and a real
server when CLICKHOUSE_URL is set): outage under traffic loses nothing and doubles nothing."""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import clickhouse_connect
import pytest

from audit import AuditConfig, open_auditor
from audit.clickhouse_store import ClickHouseStore
from tests.audit.conftest import ClickHouseEndpoint, clickhouse_targets, make_event


def test_clickhouse_connect_speaks_to_the_loopback_endpoint(clickhouse_endpoint: ClickHouseEndpoint) -> None:
    c = clickhouse_connect.get_client(host="127.0.0.1", port=clickhouse_endpoint.port, autogenerate_session_id=False)
    try:
        assert c.ping()
        assert c.command("SELECT 41 + 1") == 42
        rows = c.query("SELECT number, toString(number) AS s FROM numbers(3)").result_rows  # Native format
        assert rows == [(0, "0"), (1, "1"), (2, "2")]
        assert c.query("SELECT {x:String} AS v", parameters={"x": "it's"}).result_rows == [("it's",)]
        c.command("CREATE TABLE t (a UInt32) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 10")
        c.insert("t", [[1], [2]], column_names=["a"])  # Native insert body
        for _ in range(3):
            c.raw_insert("t", insert_block=b'{"a":3}\n', settings={"insert_deduplication_token": "tok"}, fmt="JSONEachRow")
        assert c.command("SELECT sum(a) FROM t") == 6
        with pytest.raises(Exception, match="UNKNOWN_TABLE"):
            c.command("SELECT * FROM no_such_table")
    finally:
        c.close()


def _url(target: str, endpoint: ClickHouseEndpoint) -> str:
    if target == "real":
        # a fresh database per run on the real server; nothing else there is touched
        base = os.environ["CLICKHOUSE_URL"].rsplit("/", 1)[0]
        return f"{base}/customs_test_{uuid.uuid4().hex[:8]}"
    return endpoint.url


@pytest.mark.parametrize("target", clickhouse_targets())
def test_events_ship_through_clickhouse_connect(target: str, clickhouse_endpoint: ClickHouseEndpoint, tmp_path: Path) -> None:
    a = open_auditor(AuditConfig(backend="clickhouse", clickhouse_url=_url(target, clickhouse_endpoint)), tmp_path)
    try:
        for i in range(50):
            a.record(make_event(i, finding_counts={"EMAIL_ADDRESS": 1}))
        assert a.flush(20), a.last_ship_error
        r = a.query("secrets_pii_by_type_team", {"since": "2d"}, "auditor")
        assert sum(x["findings"] for x in r) == 50
        assert a.verify().ok
    finally:
        a.close()


def test_outage_under_traffic_every_event_arrives_exactly_once(clickhouse_endpoint: ClickHouseEndpoint, tmp_path: Path) -> None:
    cfg = AuditConfig(backend="clickhouse", clickhouse_url=clickhouse_endpoint.url, batch_max_events=50, fsync_interval_ms=10)
    a = open_auditor(cfg, tmp_path / "proxy")
    n = 0
    try:
        def traffic(count: int) -> None:
            nonlocal n
            for _ in range(count):
                a.record(make_event(n))
                n += 1
                if n % 20 == 0:
                    time.sleep(0.002)

        traffic(200)
        clickhouse_endpoint.stop()  # outage begins mid-stream
        traffic(600)
        time.sleep(0.5)  # the shipper hits the outage and backs off
        errors_during_outage = a.metrics()["ship_errors_total"]
        pending = a.metrics()["spool_events_pending"]
        clickhouse_endpoint.start()  # same data directory, same port
        traffic(200)
        assert a.flush(30), a.last_ship_error
        assert errors_during_outage > 0 and pending > 0
        counts = a.store().select("SELECT count() AS n, uniqExact(id) AS ids FROM events")[0]
        assert counts == {"n": n, "ids": n} and n == 1000
        usage = a.store().select("SELECT sum(requests) AS n FROM usage_daily")[0]
        assert usage["n"] == n
        assert a.metrics()["spool_events_pending"] == 0
        assert a.verify().ok
    finally:
        a.close()


def test_store_errors_carry_no_row_data(clickhouse_endpoint: ClickHouseEndpoint) -> None:
    store = ClickHouseStore(clickhouse_endpoint.url)
    try:
        store.execute("CREATE TABLE IF NOT EXISTS x (a UInt32) ENGINE = MergeTree ORDER BY a")
        with pytest.raises(Exception) as info:
            store.insert_jsonl("x", b'{"a":"AKIAIOSFODNN7EXAMPLE"}\n', "tok-1")
        assert "AKIA" not in str(info.value)
    finally:
        store.close()
