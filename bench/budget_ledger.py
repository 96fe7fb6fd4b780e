"""Ledger cost per request: reserve + settle on SQLite and Redis, p50/p99, as a markdown table.

Each iteration is what the proxy does for one exchange: reserve the estimate against every
budget that applies (three here: team tokens, user USD, key tokens), then settle the usage.
Redis runs as a local redis-server started (and stopped, by PID) by this script.

    python -m bench.budget_ledger [--n 5000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from proxy.budgets import BudgetConfig, BudgetLimits, BudgetRequest, Ledger, PriceTable, open_ledger

LIMITS = BudgetLimits.from_dict({"budgets": [
    {"name": "team-daily", "scope": "team", "match": "payments", "window": "daily", "tokens": 10**12},
    {"name": "user-usd", "scope": "user", "match": "*", "window": "monthly", "usd": 10**6},
    {"name": "key-daily", "scope": "key", "match": "k1", "window": "daily", "tokens": 10**12},
    {"name": "other-team", "scope": "team", "match": "platform", "window": "daily", "tokens": 1000},
]})
PRICES = PriceTable.from_dict({"prices": {"gpt-4o*": {"input": 2.5, "output": 10, "cached_input": 1.25},
                                          "*": {"input": 1, "output": 2}}})
REQ = BudgetRequest(user="alice", team="payments", key_id="k1", provider="openai", model="gpt-4o",
                    input_tokens=2000, max_output_tokens=1024)


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def measure(ledger: Ledger, n: int) -> dict[str, float]:
    """Microseconds per reserve, per settle, and per reserve+settle pair."""
    clock: Callable[[], int] = time.perf_counter_ns
    for _ in range(200):  # warm caches and statement preparation
        ledger.settle(ledger.reserve(REQ), 1800, 400, 200)
    reserve, settle, both = [], [], []
    for i in range(n):
        t0 = clock()
        res = ledger.reserve(REQ)
        t1 = clock()
        ledger.settle(res, 1800 + i % 50, 400, 200)
        t2 = clock()
        reserve.append((t1 - t0) / 1000)
        settle.append((t2 - t1) / 1000)
        both.append((t2 - t0) / 1000)
    return {"reserve_p50": statistics.median(reserve), "reserve_p99": _pct(reserve, 0.99),
            "settle_p50": statistics.median(settle), "settle_p99": _pct(settle, 0.99),
            "pair_p50": statistics.median(both), "pair_p99": _pct(both, 0.99)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(exe).exists():
        return None
    import redis

    port = _free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(500):
        try:
            client.ping()
            client.close()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.01)
    proc.kill()
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    results: dict[str, dict[str, float] | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(BudgetConfig(), Path(tmp), limits=LIMITS, prices=PRICES)
        results["SQLite (WAL, synchronous=NORMAL)"] = measure(ledger, args.n)
        ledger.close()
        started = _start_redis(Path(tmp))
        if started is None:
            results["Redis (Lua, loopback)"] = None
        else:
            proc, url = started
            try:
                ledger = open_ledger(BudgetConfig(backend="redis", redis_url=url), Path(tmp), limits=LIMITS, prices=PRICES)
                results["Redis (Lua, loopback)"] = measure(ledger, args.n)
                ledger.close()
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Ledger cost per request, {args.n} iterations, 3 budgets applying (µs); "
          f"{os.cpu_count()} cores, load average {load}\n")
    print("| backend | reserve p50 | reserve p99 | settle p50 | settle p99 | reserve+settle p50 | reserve+settle p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        if r is None:
            print(f"| {name} | redis-server not installed | | | | | |")
            continue
        print(f"| {name} | {r['reserve_p50']:.1f} | {r['reserve_p99']:.1f} | {r['settle_p50']:.1f} | "
              f"{r['settle_p99']:.1f} | {r['pair_p50']:.1f} | {r['pair_p99']:.1f} |")


if __name__ == "__main__":
    main()
