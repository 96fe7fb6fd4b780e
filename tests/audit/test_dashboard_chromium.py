"""The dashboard rendered by headless Chromium: charts are drawn and their numbers match the queries."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from audit import Auditor
from audit.http_api import audit_routes
from tests.audit.conftest import make_event
from tests.audit.test_http_api import auth, authenticate

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")


def chromium() -> str:
    for c in CHROMIUM_CANDIDATES:
        path = shutil.which(c)
        if path:
            return path
    pytest.fail("headless Chromium is required for the dashboard test: install Debian's `chromium` package "
                "(make test's system deps)")


def run_chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-dev-shm-usage", "--no-first-run", f"--user-data-dir={tmp / 'chromium-profile'}",
            "--window-size=1280,1500"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=60)


class Elements(HTMLParser):
    """Every element's tag and attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, dict[str, str]]] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = {k: v or "" for k, v in attrs}
        d["_section"] = next((s for s in reversed(self.stack) if s.startswith("chart-")), "")
        self.items.append((tag, d))
        if tag == "div":
            self.stack.append(d.get("id", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.stack:
            self.stack.pop()


def test_dashboard_draws_charts_whose_numbers_match_the_queries(auditor: Auditor, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(hour=12)
    for i in range(60):
        auditor.record(make_event(
            i,
            time=now - timedelta(days=i % 3),
            allowed=i % 4 != 0,
            reasons=[] if i % 4 else (["residency.region_not_allowed"] if i % 8 else ["role.model_not_allowed"]),
            finding_counts={"AWS_ACCESS_KEY": 1} if i % 5 == 0 else {"EMAIL_ADDRESS": 2} if i % 5 == 1 else {},
            cost_usd=0.01 * (1 + i % 2),
        ))
    assert auditor.flush(10)
    with TestClient(Starlette(routes=audit_routes(auditor, authenticate))) as c:
        page = c.get("/dashboard", headers=auth("k-auditor"))
        data = c.get("/dashboard/data", headers=auth("k-auditor")).json()
        denials = c.get("/audit/query/denials_by_rule?since=7d", headers=auth("k-auditor")).json()["rows"]
    assert page.status_code == 200
    html_file = tmp_path / "dashboard.html"
    html_file.write_text(page.text)

    shot = tmp_path / "dashboard.png"
    r = run_chromium([f"--screenshot={shot}", html_file.as_uri()], tmp_path)
    assert shot.exists() and shot.stat().st_size > 20_000, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    dom = run_chromium(["--dump-dom", html_file.as_uri()], tmp_path).stdout
    assert 'data-rendered="true"' in dom, "the dashboard script did not run"
    els = Elements()
    els.feed(dom)
    charts = {a["_section"]: a["data-chart"] for t, a in els.items if t == "svg" and "data-chart" in a}
    assert charts == {"chart-cost": "line", "chart-tokens": "line", "chart-latency": "grouped-bar",
                      "chart-denials": "bar", "chart-redactions": "bar"}

    # cost line chart: one series per team, one point per day, values as the query computed
    points: dict[str, list[float]] = {}
    series = ""
    for tag, a in els.items:
        if a["_section"] != "chart-cost":
            continue
        if tag == "g" and "data-series" in a:
            series = a["data-series"]
        if tag == "circle":
            points.setdefault(series, []).append(float(a["data-value"]))
    assert points == data["cost_by_team"] and set(points) == {"payments", "search"} and len(data["days"]) == 3
    assert round(sum(map(sum, points.values())), 6) == round(sum(0.01 * (1 + i % 2) for i in range(60)), 6)

    bars = {a["data-label"]: int(a["data-value"]) for t, a in els.items if t == "g" and a["_section"] == "chart-denials"}
    assert bars == {r["rule"]: r["denials"] for r in denials} == {"residency.region_not_allowed": 7, "role.model_not_allowed": 8}
    redactions = {a["data-label"]: int(a["data-value"]) for t, a in els.items if t == "g" and a["_section"] == "chart-redactions"}
    assert redactions == {"AWS_ACCESS_KEY": 12, "EMAIL_ADDRESS": 24}
    quantiles = [a for t, a in els.items if t == "rect" and a["_section"] == "chart-latency"]
    assert len(quantiles) == 6 and {a["data-quantile"] for a in quantiles} == {"p50", "p95", "p99"}
    assert not re.search(r"<script[^>]+src=", dom), "no external scripts"
