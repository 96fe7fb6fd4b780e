"""Fixtures for the budget tests: a real redis-server, and a ledger per backend."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxy.budgets import BudgetConfig, BudgetLimits, Ledger, PriceTable, open_ledger

PRICES = PriceTable.from_dict({"prices": {
    "gpt-4o*": {"input": 2.5, "output": 10.0, "cached_input": 1.25},
    "gpt-4o-mini*": {"input": 0.15, "output": 0.6, "cached_input": 0.075},
    "claude-sonnet-4*": {"input": 3.0, "output": 15.0, "cached_input": 0.3},
    "*": {"input": 1.0, "output": 2.0},
}})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port; yields its URL, stops it by PID."""
    exe = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if exe is None:
        pytest.fail("redis-server is not installed, so the Redis ledger cannot be tested: "
                    "run `make system-deps` or `apt-get install redis-server`", pytrace=False)
    import redis

    workdir = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--daemonize", "no", "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on 127.0.0.1:{port}", pytrace=False)
                time.sleep(0.02)
        client.close()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def fresh_redis(redis_server: str) -> str:
    """The session's redis-server, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


class Clock:
    """A settable epoch clock, so windows and TTLs can be crossed without sleeping."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_ledger(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Ledger]]:
    """Factory: a ledger of the parametrised backend over the given limits, closed at the end."""
    url = request.getfixturevalue("fresh_redis") if backend == "redis" else ""
    opened: list[Ledger] = []

    def make(limits: dict[str, Any] | BudgetLimits, clock: Callable[[], float] | None = None,
             **cfg: Any) -> Ledger:
        config = BudgetConfig.from_dict({"backend": backend, "redis_url": url or BudgetConfig().redis_url, **cfg})
        lim = limits if isinstance(limits, BudgetLimits) else BudgetLimits.from_dict(limits)
        kw: dict[str, Any] = {"limits": lim, "prices": PRICES}
        if clock is not None:
            kw["clock"] = clock
        ledger = open_ledger(config, tmp_path, **kw)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        try:
            ledger.close()
        except Exception:  # noqa: BLE001 - a test may already have closed it
            pass
