"""`customs audit query|queries|verify`, locally and through the admin API."""
from __future__ import annotations

import argparse
import io
import json
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette

from audit import AuditConfig, open_auditor
from audit.cli import add_parser, format_rows
from audit.http_api import audit_routes
from tests.audit.conftest import free_port, make_event
from tests.audit.test_http_api import authenticate


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="customs")
    add_parser(p.add_subparsers(dest="command", required=True))
    return p.parse_args(argv)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    cfg = tmp_path / "customs.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\naudit:\n  fsync_interval_ms: 10\n")
    return cfg


def test_local_query_and_verify(config_file: Path, tmp_path: Path) -> None:
    a = open_auditor(AuditConfig(), tmp_path / "data")
    for i in range(8):
        a.record(make_event(i, finding_counts={"EMAIL_ADDRESS": 1}))
    a.close()  # stopped before shipping everything: --local ships the spool first

    args = parse(["audit", "query", "secrets_pii_by_type_team", "--since", "2d", "--format", "json", "--local", "--config", str(config_file)])
    out = io.StringIO()
    assert args.func(args, out=out) == 0
    rows = json.loads(out.getvalue())
    assert sum(r["findings"] for r in rows) == 8

    args = parse(["audit", "verify", "--local", "--config", str(config_file)])
    out = io.StringIO()
    assert args.func(args, out=out) == 0 and out.getvalue().startswith("ok: 8 events")


def test_query_through_the_admin_api(tmp_path: Path) -> None:
    a = open_auditor(AuditConfig(), tmp_path)
    server = None
    try:
        for i in range(6):
            a.record(make_event(i, allowed=False, reasons=["role.model_not_allowed"]))
        assert a.flush(10)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(Starlette(routes=audit_routes(a, authenticate)), host="127.0.0.1",
                                               port=port, log_level="error"))
        t = threading.Thread(target=server.run, daemon=True)
        t.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        admin = f"http://127.0.0.1:{port}"
        args = parse(["audit", "query", "denials_by_rule", "--format", "csv", "--admin", admin, "--key", "k-auditor"])
        out = io.StringIO()
        assert args.func(args, out=out) == 0
        assert out.getvalue().splitlines()[1].startswith("role.model_not_allowed,6,")
        args = parse(["audit", "query", "denials_by_rule", "--admin", admin, "--key", "k-dev"])
        with pytest.raises(SystemExit, match="refused \\(403\\)"):
            args.func(args, out=io.StringIO())
        args = parse(["audit", "verify", "--admin", admin, "--key", "k-admin"])
        out = io.StringIO()
        assert args.func(args, out=out) == 0 and "6 events" in out.getvalue()
    finally:
        if server is not None:
            server.should_exit = True
            t.join(timeout=10)
        a.close()


def test_table_format_aligns_columns() -> None:
    text = format_rows([{"rule": "a", "n": 5}, {"rule": "longer.rule", "n": 12}], "table")
    lines = text.splitlines()
    assert lines[0].split() == ["rule", "n"] and lines[2].endswith(" 5") and lines[3].endswith("12")
