"""Budgets are real ceilings: under concurrency, across processes, and after a crash."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from proxy.budgets import BudgetConfig, BudgetExceeded, BudgetLimits, BudgetRequest, open_ledger

from .conftest import PRICES
from .ledger_worker import usage_for

REPO = Path(__file__).resolve().parents[2]
ESTIMATE = 200  # 120 prompt + 80 max output tokens
REQUEST = {"user": "alice", "team": "payments", "key_id": "k1", "provider": "openai", "model": "gpt-4o",
           "input_tokens": 120, "max_output_tokens": 80}
# Fits exactly 50 estimates in tokens; the USD budget is large but is charged and checked too.
LIMITS = {"budgets": [
    {"name": "team-fits-50", "scope": "team", "match": "payments", "window": "daily", "tokens": 50 * ESTIMATE},
    {"name": "user-usd", "scope": "user", "match": "*", "window": "monthly", "usd": 100},
]}


def ledger_config(backend: str, url: str, **extra) -> dict:
    return {"backend": backend, "redis_url": url or "redis://127.0.0.1:1/0", **extra}


def totals(ledger, budget: str, unit: str) -> tuple[float, float]:
    (r,) = [r for r in ledger.report() if r["budget"] == budget and r["unit"] == unit]
    return r["used"], r["reserved"]


@pytest.fixture
def url(backend: str, request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("fresh_redis") if backend == "redis" else ""


def test_200_concurrent_reservations_against_a_budget_that_fits_50(backend, url, tmp_path):
    config = BudgetConfig.from_dict(ledger_config(backend, url))
    ledger = open_ledger(config, tmp_path, limits=BudgetLimits.from_dict(LIMITS), prices=PRICES)
    req = BudgetRequest(**REQUEST)
    barrier = threading.Barrier(200)
    granted, denied, errors = [], [], []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        try:
            res = ledger.reserve(req)
            with lock:
                granted.append(res)
        except BudgetExceeded as e:
            with lock:
                denied.append(e)
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    # Every estimate is the same size, so exactly 50 fit; never more.
    assert len(granted) == 50 and len(denied) == 150
    assert all(e.name == "team-fits-50" for e in denied)
    assert len({r.id for r in granted}) == 50
    assert totals(ledger, "team-fits-50", "tokens") == (0, 50 * ESTIMATE)

    # Settle with known usage: the ledger equals the sum of what was reported, exactly.
    expected_tokens, expected_nano = 0, 0
    for i, res in enumerate(granted):
        inp, out = usage_for("t", i)
        cached = i % 3 * 10
        ledger.settle(res, inp, out, cached)
        expected_tokens += inp + out
        expected_nano += PRICES.cost_nano("gpt-4o", inp, out, cached)
    assert totals(ledger, "team-fits-50", "tokens") == (expected_tokens, 0)
    used_usd, held_usd = totals(ledger, "user-usd", "usd")
    assert round(used_usd * 1e9) == expected_nano and held_usd == 0
    ledger.close()


def _spawn(spec: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.budgets.ledger_worker", json.dumps(spec)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def test_two_processes_sharing_one_ledger_hold_one_budget(backend, url, tmp_path):
    start_at = time.time() + 1.5  # both processes are imported and waiting by then
    procs = [_spawn({"mode": "race", "tag": tag, "config": ledger_config(backend, url), "data_dir": str(tmp_path),
                     "limits": LIMITS, "request": REQUEST, "n": 100, "threads": 4, "start_at": start_at,
                     "sync_dir": str(tmp_path), "peers": 2})
             for tag in ("a", "b")]
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
                q.communicate()
            pytest.fail("a ledger worker did not finish within 40 s")
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["errors"] == [] for r in results)
    assert sum(r["granted"] for r in results) == 50
    assert sum(r["denied"] for r in results) == 150
    ledger = open_ledger(BudgetConfig.from_dict(ledger_config(backend, url)), tmp_path,
                         limits=BudgetLimits.from_dict(LIMITS), prices=PRICES)
    assert totals(ledger, "team-fits-50", "tokens") == (sum(r["settled_tokens"] for r in results), 0)
    ledger.close()


def _read_line(proc: subprocess.Popen, timeout_s: float) -> str:
    """One line of the worker's stdout, or fail (with its stderr) after `timeout_s`."""
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            pytest.fail(f"worker printed nothing within {timeout_s} s")
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=5)
        pytest.fail(f"worker exited ({proc.returncode}): {proc.stderr.read()}")
    return line


def test_reservation_of_a_killed_process_expires_and_reconcile_restores_the_budget(backend, url, tmp_path):
    ttl = 1.0
    cfg = ledger_config(backend, url, reservation_ttl_s=ttl)
    limits = BudgetLimits.from_dict(LIMITS)
    ledger = open_ledger(BudgetConfig.from_dict(cfg), tmp_path, limits=limits, prices=PRICES)
    proc = _spawn({"mode": "hold", "config": cfg, "data_dir": str(tmp_path), "limits": LIMITS, "request": REQUEST})
    try:
        word, _, expires_at = _read_line(proc, 30).split()
        assert word == "RESERVED"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert totals(ledger, "team-fits-50", "tokens") == (0, ESTIMATE)  # the dead process's hold
    if time.time() < float(expires_at) - 0.05:  # (a loaded machine may already be past the TTL)
        assert ledger.reconcile() == 0  # not yet past its TTL
        assert totals(ledger, "team-fits-50", "tokens") == (0, ESTIMATE)
    time.sleep(max(0.0, float(expires_at) - time.time()) + 0.05)
    assert ledger.reconcile() == 1
    assert totals(ledger, "team-fits-50", "tokens") == (0, 0)
    # The whole budget is usable again, and only the whole budget.
    granted = []
    with pytest.raises(BudgetExceeded):
        while True:
            granted.append(ledger.reserve(BudgetRequest(**REQUEST)))
    assert len(granted) == 50
    ledger.close()
