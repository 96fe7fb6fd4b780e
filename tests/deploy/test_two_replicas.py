"""Two `customs run` processes share one Redis ledger and one ClickHouse audit store (the
ClickHouse-HTTP endpoint backed by chDB) and serve one load together: the shared budget is
charged exactly what the upstream reported, a small budget's cap holds across both replicas,
and every exchange lands in the audit store exactly once."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.scale_out import (
    BUDGET,
    CAPPED_BUDGET,
    CAPPED_USER,
    SharedBackends,
    audit_counts,
    ledger_row,
    run_load,
    shared_backends,
    start_replicas,
    stop_replicas,
)
from tests.proxy.harness import BOB, Customs, FakeUpstream, start_fake_upstream, stop

pytestmark = pytest.mark.integration
CAP = 2500  # tokens; each request reserves its prompt estimate + max_tokens (64) and uses ~90


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SharedBackends, list[Customs], FakeUpstream]]:
    tmp = tmp_path_factory.mktemp("two-replicas")
    upstream = start_fake_upstream(tmp)
    try:
        with shared_backends(tmp, capped_tokens=CAP) as backends:
            replicas = start_replicas(tmp, backends, upstream, 2)
            try:
                yield backends, replicas, upstream
            finally:
                stop_replicas(replicas)
    finally:
        stop(upstream.proc)


@pytest.fixture(scope="module")
def shared_load(deployment: tuple[SharedBackends, list[Customs], FakeUpstream]):
    _, replicas, _ = deployment
    return run_load(replicas, n=100, concurrency=16)


def test_both_replicas_serve_the_load_split_between_them(deployment, shared_load) -> None:
    _, _, upstream = deployment
    assert shared_load.statuses == {200: 100}
    assert len(upstream.requests()) >= 100


def test_shared_budget_is_charged_exactly_the_usage_the_upstream_reported(deployment, shared_load) -> None:
    _, replicas, _ = deployment
    rows = [ledger_row(r) for r in replicas]  # both replicas read the same Redis counters
    assert rows[0]["used"] == rows[1]["used"] == shared_load.usage_tokens > 0
    assert rows[0]["reserved"] == 0, "every reservation was settled"
    assert rows[0]["budget"] == BUDGET


@pytest.fixture(scope="module")
def capped_load(deployment: tuple[SharedBackends, list[Customs], FakeUpstream], shared_load):
    _, replicas, _ = deployment
    return run_load(replicas, n=60, concurrency=12, start=10_000, key=BOB)


def test_small_budget_cap_holds_across_both_replicas(deployment, capped_load) -> None:
    _, replicas, _ = deployment
    res = capped_load
    assert res.statuses.get(429, 0) > 0 and res.statuses.get(200, 0) > 0, res.statuses
    assert set(res.statuses) <= {200, 429}
    row = ledger_row(replicas[1], CAPPED_BUDGET, user=CAPPED_USER)
    assert row["used"] == res.usage_tokens <= CAP
    assert row["reserved"] == 0


def test_every_exchange_lands_in_the_shared_audit_store_once(deployment, shared_load, capped_load) -> None:
    backends, replicas, upstream = deployment
    stop_replicas(replicas)  # SIGTERM flushes each replica's spool into the store
    counts = audit_counts(backends)
    assert counts["rows"] == counts["ids"], "an exchange was recorded twice"
    assert counts["rows"] == shared_load.n + capped_load.n, "every exchange, refused ones included, is recorded"
    assert len(counts["per_replica"]) == 2 and min(counts["per_replica"]) > 0, "both replicas wrote"
    by_status = {int(r["status"]): int(r["n"]) for r in backends.ch_query(
        "SELECT status, count() AS n FROM events GROUP BY status")}
    assert by_status == {200: shared_load.ok + capped_load.ok, 429: capped_load.statuses.get(429, 0)}
    assert by_status[200] == len(upstream.requests()), "one upstream call per allowed exchange"
    assert counts["tokens"] == shared_load.usage_tokens + capped_load.usage_tokens
