"""Scale-out: Customs replicas sharing one Redis budget ledger and one ClickHouse audit store.

Starts, on loopback: a real redis-server, the ClickHouse-HTTP endpoint (audit/clickhouse_http.py,
chDB behind ClickHouse's HTTP interface), the fake model upstream, and `customs run` processes
configured with budgets.backend redis and audit.backend clickhouse. One load test is split
round-robin across the replicas' gateways. Afterwards it checks that the shared budget was held
exactly (the ledger's total equals the usage the upstream reported in the responses) and that
every exchange landed in the audit store exactly once.

Everything runs on this machine, so the load client shares the CPU with the proxies: compare
the ratio of 2 replicas to 1, do not expect it to double.

    python -m bench.scale_out [--n 800] [--concurrency 32] [--replicas 1,2] [--rounds 3]

Rounds alternate 1 and 2 replicas and the median is reported, so a burst of other load on
the machine does not land on one configuration only; the load average is printed too.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import yaml

from tests.proxy.harness import (ALICE, BOB, Customs, FakeUpstream, free_port, start_customs, start_fake_upstream,
                                 start_redis_server, stop)

REPO = Path(__file__).resolve().parents[1]
BUDGET = "scale-out-team-daily"
TEAM = "payments"  # alice's team (policies/data/users.yaml)
CAPPED_BUDGET = "scale-out-bob-daily"  # a small per-user budget, to see the cap hold across replicas
CAPPED_USER = "bob"


@dataclass
class SharedBackends:
    """The state the replicas share: the Redis ledger and the ClickHouse audit store."""

    redis_url: str
    clickhouse_url: str  # http://127.0.0.1:PORT (database in the path for the proxies)
    limits_file: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def ch_query(self, sql: str) -> list[dict[str, Any]]:
        """Run one SELECT on the audit store (JSONEachRow rows)."""
        r = httpx.post(self.clickhouse_url, params={"database": "customs", "default_format": "JSONEachRow"},
                       content=sql.encode(), timeout=30)
        r.raise_for_status()
        return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def _start_clickhouse_http(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen([sys.executable, "-m", "audit.clickhouse_http", "--path", str(tmp / "chdb"),
                             "--port", str(free_port())], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()  # "ready http://127.0.0.1:PORT"; EOF if it died
    if not line.startswith("ready "):
        stop(proc)
        raise RuntimeError(f"the ClickHouse-HTTP endpoint did not start: {line!r}")
    return proc, line.split()[1]


def _write_limits(tmp: Path, tokens: int, capped_tokens: int) -> Path:
    path = tmp / "budgets.yaml"
    path.write_text(yaml.safe_dump({"budgets": [
        {"name": BUDGET, "scope": "team", "match": TEAM, "window": "daily", "tokens": tokens},
        {"name": CAPPED_BUDGET, "scope": "user", "match": CAPPED_USER, "window": "daily", "tokens": capped_tokens},
    ]}))
    return path


@contextmanager
def shared_backends(tmp: Path, budget_tokens: int = 10**9, capped_tokens: int = 3000) -> Iterator[SharedBackends]:
    """Redis and the ClickHouse-HTTP endpoint, stopped (by handle) on exit."""
    redis_proc, redis_url = start_redis_server(tmp)
    try:
        ch_proc, ch_url = _start_clickhouse_http(tmp)
    except BaseException:
        stop(redis_proc)
        raise
    backends = SharedBackends(redis_url, ch_url, _write_limits(tmp, budget_tokens, capped_tokens),
                              [redis_proc, ch_proc])
    try:
        yield backends
    finally:
        for p in reversed(backends.procs):
            stop(p)


def replica_config(b: SharedBackends) -> dict[str, Any]:
    """The config sections that make a `customs run` a replica of the shared deployment."""
    return {
        "budgets": {"backend": "redis", "redis_url": b.redis_url, "limits_file": str(b.limits_file)},
        "audit": {"backend": "clickhouse", "clickhouse_url": f"{b.clickhouse_url}/customs",
                  "fsync_interval_ms": 20},
    }


def start_replicas(tmp: Path, b: SharedBackends, upstream: FakeUpstream, count: int) -> list[Customs]:
    """`count` Customs processes (own data dir and ports each) on the shared backends."""
    started: list[Customs] = []
    try:
        for i in range(count):
            d = tmp / f"replica-{i}"
            d.mkdir(exist_ok=True)
            started.append(start_customs(d, upstream, extra=replica_config(b)))
    except BaseException:
        for c in started:
            stop(c.proc)
        raise
    return started


def chat_body(i: int) -> bytes:
    return json.dumps({"model": "gpt-4o", "max_tokens": 64,
                       "messages": [{"role": "user", "content": f"request {i}: refactor compute_total(items) please"}]}).encode()


@dataclass
class LoadResult:
    n: int
    ok: int
    seconds: float
    usage_tokens: int  # what the upstream reported, summed over the responses
    statuses: dict[int, int]
    proxy_cpu_s: float = 0.0  # CPU time the replicas spent during the run (user + system)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


async def _load(gateways: list[str], n: int, concurrency: int, start: int, key: str) -> LoadResult:
    statuses: dict[int, int] = {}
    usage = ok = 0
    counter = iter(range(start, start + n))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal usage, ok
        for i in counter:
            url = f"{gateways[i % len(gateways)]}/openai/v1/chat/completions"  # round-robin
            async with session.post(url, data=chat_body(i), headers=headers) as r:
                body = await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
                if r.status == 200:
                    ok += 1
                    usage += int(json.loads(body)["usage"]["total_tokens"])

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as session:
        t = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - t
    return LoadResult(n, ok, seconds, usage, statuses)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(replicas: list[Customs], n: int, concurrency: int, start: int = 0, key: str = ALICE) -> LoadResult:
    """n chat requests (as alice unless `key` says otherwise), round-robin across the replicas' gateways."""
    before = sum(cpu_seconds(c.proc.pid) for c in replicas)
    res = asyncio.run(_load([c.gateway for c in replicas], n, concurrency, start, key))
    res.proxy_cpu_s = sum(cpu_seconds(c.proc.pid) for c in replicas) - before
    return res


def ledger_row(replica: Customs, budget: str = BUDGET, **scope: str) -> dict[str, Any]:
    """The shared budget's ledger row, as one replica's admin API reports it from Redis."""
    r = httpx.get(f"{replica.admin}/budgets", params=scope or {"team": TEAM},
                  headers={"Authorization": f"Bearer {BOB}"}, timeout=10)
    r.raise_for_status()
    rows = [row for row in r.json()["budgets"] if row.get("budget") == budget and row.get("unit", "tokens") == "tokens"]
    if len(rows) != 1:
        raise AssertionError(f"expected one ledger row for {budget}, got {r.json()}")
    return rows[0]


def ledger_used_tokens(replica: Customs, budget: str = BUDGET, **scope: str) -> int:
    """Tokens charged to the shared budget so far."""
    return int(ledger_row(replica, budget, **scope)["used"])


def audit_counts(b: SharedBackends) -> dict[str, Any]:
    """Events in the shared store: total rows, distinct ids, and rows per writing replica."""
    total = b.ch_query("SELECT count() AS rows, uniqExact(id) AS ids, sum(input_tokens + output_tokens) AS tokens "
                       "FROM events")[0]
    per_chain = b.ch_query("SELECT chain_id, count() AS rows FROM events GROUP BY chain_id ORDER BY chain_id")
    return {**total, "per_replica": [int(r["rows"]) for r in per_chain]}


def stop_replicas(replicas: list[Customs]) -> None:
    """SIGTERM each replica (it flushes its audit spool to the store on the way out)."""
    for c in replicas:
        stop(c.proc, timeout=30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=800, help="requests per measurement")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--replicas", default="1,2", help="replica counts to measure, e.g. 1,2")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.replicas.split(",")]
    print(f"cpus: {os.cpu_count()}  n={args.n} concurrency={args.concurrency} rounds={args.rounds} "
          f"load average {os.getloadavg()[0]:.1f} (client, upstream and store on the same cores)")
    results: dict[int, list[LoadResult]] = {k: [] for k in counts}
    with tempfile.TemporaryDirectory(prefix="customs-scale-") as td:
        tmp = Path(td)
        upstream = start_fake_upstream(tmp)
        try:
            with shared_backends(tmp) as b:
                replicas = start_replicas(tmp, b, upstream, max(counts))
                sent = 0
                try:
                    run_load(replicas, 100, 8, start=10**6)  # warm-up: connections, caches
                    sent += 100
                    expected_usage = 0
                    warm_used = ledger_used_tokens(replicas[0])
                    for r in range(args.rounds):
                        for k in counts if r % 2 == 0 else list(reversed(counts)):
                            res = run_load(replicas[:k], args.n, args.concurrency, start=sent)
                            sent += args.n
                            expected_usage += res.usage_tokens
                            results[k].append(res)
                            print(f"round {r + 1}, {k} replica(s): {res.rps:8.1f} req/s  ({res.ok}/{res.n} ok in "
                                  f"{res.seconds:.2f}s, proxy CPU {1000 * res.proxy_cpu_s / res.n:.1f} ms/req, "
                                  f"statuses {res.statuses}, load {os.getloadavg()[0]:.1f})")
                    used = ledger_used_tokens(replicas[0]) - warm_used
                    print(f"shared budget {BUDGET}: ledger used {used} tokens, upstream reported {expected_usage}"
                          f" -> {'EXACT' if used == expected_usage else 'MISMATCH'}")
                finally:
                    stop_replicas(replicas)
                counts_ = audit_counts(b)
                print(f"audit store: {counts_['rows']} rows, {counts_['ids']} distinct ids for {sent} requests; "
                      f"rows per replica {counts_['per_replica']}")
        finally:
            stop(upstream.proc)
    medians = {k: statistics.median(r.rps for r in rs) for k, rs in results.items() if rs}
    for k, m in medians.items():
        cpu = statistics.median(1000 * r.proxy_cpu_s / r.n for r in results[k])
        print(f"median {k} replica(s): {m:.1f} req/s, proxy CPU {cpu:.1f} ms/request")
    if 1 in medians and 2 in medians:
        print(f"ratio 2 replicas / 1 replica: {medians[2] / medians[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
