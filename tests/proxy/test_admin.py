"""The admin app: health, readiness and Prometheus metrics of a running proxy."""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import httpx

from tests.proxy.harness import ALICE, BIN, REPO, UPSTREAM_KEYS, Customs, FakeUpstream, write_config


def test_healthz_and_readyz(customs: Customs) -> None:
    assert httpx.get(f"{customs.admin}/healthz").text == "ok\n"
    r = httpx.get(f"{customs.admin}/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["ready"] is True


def test_metrics_count_requests_and_findings(customs: Customs) -> None:
    httpx.post(f"{customs.gateway}/openai/v1/chat/completions", headers={"authorization": f"Bearer {ALICE}"},
               json={"model": "gpt-4o", "messages": [{"role": "user", "content": "mail a.b@example.com"}]})
    text = httpx.get(f"{customs.admin}/metrics").text
    assert 'customs_requests_total{endpoint="chat",provider="openai",status="200"}' in text
    assert 'customs_findings_total{kind="pii"' in text
    assert "customs_proxy_overhead_seconds_bucket" in text


def test_ca_command_prints_the_path_and_how_to_trust_it(customs: Customs) -> None:
    out = subprocess.run([str(BIN / "customs"), "ca", "--config", str(customs.config_path)], cwd=REPO,
                         capture_output=True, text=True, timeout=60).stdout
    assert str(customs.ca_cert) in out
    assert "NODE_EXTRA_CA_CERTS" in out and "SSL_CERT_FILE" in out


def test_a_listener_port_in_use_stops_startup_with_an_error(tmp_path: Path, upstream: FakeUpstream) -> None:
    """Customs runs mitmproxy with a reduced addon set; the startup error check must be in it."""

    path, cfg = write_config(tmp_path, upstream)
    host, port = cfg["listen"]["gateway"].rsplit(":", 1)
    with socket.socket() as taken:
        taken.bind((host, int(port)))
        taken.listen()
        run = subprocess.run([str(BIN / "customs"), "run", "--config", str(path)], cwd=REPO,
                             env={**os.environ, **UPSTREAM_KEYS}, capture_output=True, text=True,
                             timeout=120)
    assert run.returncode != 0
    assert port in run.stdout + run.stderr  # the operator learns which listener failed
