"""The audit trail as the proxy uses it: nothing crosses unrecorded when the spool is full."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.proxy.harness import ALICE, Customs, FakeUpstream, free_port, start_customs, stop


@pytest.fixture()
def starved(tmp_path: Path, upstream: FakeUpstream) -> Iterator[Customs]:
    # ClickHouse "down" (nothing listens on that port), and a spool of 2 MiB: it fills up.
    dead = f"http://127.0.0.1:{free_port()}/customs"
    c = start_customs(tmp_path, upstream, extra={"audit": {"backend": "clickhouse", "clickhouse_url": dead,
                                                           "spool_max_bytes": 2 * 1024 * 1024}})
    yield c
    stop(c.proc)


def test_a_full_spool_refuses_new_exchanges_in_the_providers_format(starved: Customs, upstream: FakeUpstream) -> None:
    text = "def f():\n    return 42\n" * 4000  # ~100 KB per exchange, recorded (redacted) in the spool
    statuses = []
    for _ in range(40):
        r = httpx.post(f"{starved.gateway}/openai/v1/chat/completions", timeout=30,
                       headers={"authorization": f"Bearer {ALICE}"},
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
        statuses.append(r.status_code)
        if r.status_code == 503:
            assert r.json()["error"]["code"] == "audit_unavailable"
            break
    assert statuses[0] == 200 and statuses[-1] == 503
    metrics = httpx.get(f"{starved.admin}/metrics").text
    spool = next(line for line in metrics.splitlines() if line.startswith("customs_audit_spool_bytes "))
    assert float(spool.split()[1]) > 1024 * 1024  # the spool's size is a metric
