"""The proxy killed with -9 under traffic: after restart the spool replays, nothing lost, nothing doubled."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from audit import AuditConfig, open_auditor
from tests.audit.conftest import ROOT


def test_kill_9_mid_stream_then_restart_replays_exactly_once(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.audit.record_stream", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    acked = 0
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while acked < 3000 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert acked >= 3000, f"recorder too slow or failed: {proc.stderr.read() if proc.stderr else ''}"

    a = open_auditor(AuditConfig(), tmp_path)  # the restarted proxy
    try:
        # the kill left events in the spool that had not reached the store yet
        assert a._pending_at_start > 0
        assert a.flush(30), a.last_ship_error
        r = a.store().select(
            "SELECT count() AS n, uniqExact(id) AS ids, min(toUInt64(id)) AS lo, max(toUInt64(id)) AS hi FROM events"
        )[0]
        # every acknowledged event is there, none twice, and nothing beyond a contiguous prefix
        assert r["n"] == r["ids"], f"duplicates: {r}"
        assert r["lo"] == 0 and r["hi"] + 1 == r["n"] >= acked, r
        usage = a.store().select("SELECT sum(requests) AS n FROM usage_daily")[0]
        assert usage["n"] == r["n"]
        assert a.verify().ok
    finally:
        a.close()
