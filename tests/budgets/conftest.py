"""Fixtures for the budget tests: a real redis-server, and a ledger per backend."""
from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxy.budgets import BudgetConfig, BudgetLimits, Ledger, PriceTable, open_ledger
from tests.proxy.harness import start_redis_server, stop

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
    try:
        proc, url = start_redis_server(tmp_path_factory.mktemp("redis"))
    except RuntimeError as e:
        pytest.fail(f"the Redis ledger cannot be tested: {e}", pytrace=False)
    try:
        yield url
    finally:
        stop(proc)


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
