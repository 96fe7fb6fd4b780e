"""Fixtures for the audit tests: events, an embedded auditor, and the loopback ClickHouse endpoint."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit import AuditConfig, AuditEvent, Auditor, open_auditor

ROOT = Path(__file__).resolve().parents[2]


def make_event(i: int, **kw: object) -> AuditEvent:
    """A plausible exchange; fields vary with i so the roll-ups have something to sum."""
    base = dict(
        id=f"{i:012x}{'0' * 20}",
        time=datetime.now(UTC) - timedelta(minutes=i % 60),
        user=f"dev{i % 4}",
        team=("payments", "search")[i % 2],
        roles=["developer"],
        key_id=f"k{i % 4}",
        client="vscode-copilot/1.0",
        via="gateway",
        provider=("openai", "anthropic")[i % 2],
        endpoint="chat",
        model=("gpt-4o", "claude-sonnet")[i % 2],
        host="api.example",
        region="eu",
        stream=bool(i % 3),
        status=200,
        allowed=True,
        reasons=[],
        policy_revision="rev-1",
        policy_input='{"principal":{"id":"dev"}}',
        finding_counts={},
        audit_level="full",
        prompt=f"prompt {i} " + "x" * 100,
        response=f"response {i}",
        input_tokens=100 + i,
        output_tokens=10,
        cached_tokens=0,
        cost_usd=0.001,
        latency_ms=100.0 + i,
        upstream_ms=90.0 + i,
        overhead_ms=2.5,
        ttfb_ms=40.0,
        error="",
        request_id=f"req-{i}",
    )
    base.update(kw)
    return AuditEvent(**base)  # type: ignore[arg-type]


@pytest.fixture
def auditor(tmp_path: Path) -> Iterator[Auditor]:
    a = open_auditor(AuditConfig(fsync_interval_ms=10), tmp_path)
    yield a
    a.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ClickHouseEndpoint:
    """audit.clickhouse_http in a subprocess (chDB allows one data path per process)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://default:@127.0.0.1:{self.port}/customs"

    def start(self) -> None:
        assert self.proc is None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "audit.clickhouse_http", "--path", str(self.path), "--port", str(self.port)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 20
        line = self.proc.stdout.readline()
        assert line.startswith("ready "), f"endpoint did not start: {line!r}"
        while time.monotonic() < deadline:  # the port is bound before "ready" is printed
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("endpoint not listening")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None


@pytest.fixture
def clickhouse_endpoint(tmp_path: Path) -> Iterator[ClickHouseEndpoint]:
    ep = ClickHouseEndpoint(tmp_path / "server")
    ep.start()
    yield ep
    ep.stop()


def clickhouse_targets() -> list[str]:
    """The loopback endpoint always; a real server as well when CLICKHOUSE_URL is set."""
    return ["loopback"] + (["real"] if os.environ.get("CLICKHOUSE_URL") else [])
