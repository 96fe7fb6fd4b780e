"""Budgets through the running proxy: a real ceiling under concurrency, and after a kill -9."""
from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.proxy.harness import ALICE, BOB, Customs, FakeUpstream, start_customs, stop

MAX_TOKENS = 100
PROMPT = "race 000"  # every request has the same size, so the same estimate


def budget_file(tmp: Path, tokens: int) -> Path:
    path = tmp / "budgets.yaml"
    path.write_text(yaml.safe_dump({"budgets": [
        {"name": "race-team", "scope": "team", "match": "payments", "window": "daily", "tokens": tokens}]}))
    return path


def ledger_row(customs: Customs) -> dict:
    r = httpx.get(f"{customs.admin}/budgets", params={"team": "payments"}, headers={"authorization": f"Bearer {BOB}"})
    assert r.status_code == 200, r.text
    return next(row for row in r.json()["budgets"] if row["budget"] == "race-team" and row["unit"] == "tokens")


@pytest.fixture()
def tight(tmp_path: Path, upstream: FakeUpstream) -> Iterator[Customs]:
    # The estimate of one request is its prompt estimate plus max_tokens; 50 of them fit.
    estimate = len(PROMPT) // 4 + 1 + MAX_TOKENS
    limits = budget_file(tmp_path, 50 * estimate)
    c = start_customs(tmp_path, upstream, extra={"budgets": {"limits_file": str(limits), "reservation_ttl_s": 3}})
    c.estimate = estimate  # type: ignore[attr-defined]
    yield c
    stop(c.proc)


async def _race(customs: Customs, n: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def one() -> httpx.Response:
            return await client.post(f"{customs.gateway}/openai/v1/chat/completions",
                                     headers={"authorization": f"Bearer {ALICE}"},
                                     json={"model": "gpt-4o", "max_tokens": MAX_TOKENS,
                                           "messages": [{"role": "user", "content": PROMPT}]})
        return await asyncio.gather(*(one() for _ in range(n)))


def test_200_concurrent_requests_never_overspend_and_the_ledger_equals_reported_usage(tight: Customs) -> None:
    responses = asyncio.run(_race(tight, 200))
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert ok and refused
    assert {r.status_code for r in refused} == {429}
    err = refused[0].json()["error"]
    # Refused by the ledger's reservation, or earlier by the policy's budget guard once nothing is left.
    assert {r.json()["error"]["code"] for r in refused} <= {"budget_exceeded", "budget.exhausted"}
    assert all("race-team" in r.json()["error"]["message"] for r in refused)
    assert all("resets" in r.json()["error"]["message"] for r in refused)
    assert err["type"] == "rate_limit_error"
    reported = sum(r.json()["usage"]["total_tokens"] for r in ok)
    row = ledger_row(tight)
    assert row["reserved"] == 0
    assert row["used"] == reported  # to the token
    assert row["used"] <= row["limit"] + tight.estimate  # type: ignore[attr-defined]
    assert ok[0].headers.get("x-customs-budget-remaining-tokens") is not None


def test_kill_9_mid_stream_leaves_no_phantom_reservation_after_restart(tmp_path: Path, upstream: FakeUpstream) -> None:
    limits = budget_file(tmp_path, 1_000_000)
    extra = {"budgets": {"limits_file": str(limits), "reservation_ttl_s": 2}}
    c = start_customs(tmp_path, upstream, extra=extra)
    got_first = threading.Event()

    def stream() -> None:
        try:
            with httpx.stream("POST", f"{c.gateway}/openai/v1/chat/completions", timeout=30,
                              headers={"authorization": f"Bearer {ALICE}", "x-fake-event-gap-ms": "200"},
                              json={"model": "gpt-4o", "stream": True, "max_tokens": 500,
                                    "messages": [{"role": "user", "content": "a slow and long answer please"}]}) as r:
                for _ in r.iter_raw():
                    got_first.set()
        except httpx.HTTPError:
            pass  # the proxy dies under it: expected

    t = threading.Thread(target=stream, daemon=True)
    t.start()
    assert got_first.wait(20)
    assert ledger_row(c)["reserved"] > 0  # the stream's reservation is held while it runs
    os.kill(c.proc.pid, signal.SIGKILL)
    c.proc.wait(10)
    t.join(10)
    c2 = start_customs(tmp_path, upstream, extra=extra)  # same data dir, same ledger
    try:
        time.sleep(2.5)  # past the reservation TTL
        r = httpx.post(f"{c2.gateway}/openai/v1/chat/completions", headers={"authorization": f"Bearer {ALICE}"},
                       json={"model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "after"}]})
        assert r.status_code == 200, r.text
        row = ledger_row(c2)
        assert row["reserved"] == 0
        assert row["used"] == r.json()["usage"]["total_tokens"]
    finally:
        stop(c2.proc)
