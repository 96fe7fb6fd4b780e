"""Audit ingest: record() cost on the caller's thread, and spool -> chDB shipping rate, 2 KB texts.

First N events are recorded into the spool with the shipper held back (as during an outage),
then the shipper is started and timed until everything is in the events table (and roll-ups).
Target: >= 20k events/s shipped.

    python -m bench.audit_ingest [--n 100000] [--text-bytes 2048]
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from audit import AuditConfig, AuditEvent
from audit.auditor import Auditor
from audit.chdb_store import ChdbStore


def event(i: int, text: str) -> AuditEvent:
    return AuditEvent(
        id=f"{i:032x}", time=datetime.now(UTC), user=f"dev{i % 500}", team=f"team{i % 20}", roles=["developer"],
        key_id=f"k{i % 500}", client="vscode-copilot/1.300", via="proxy", provider=("openai", "anthropic")[i % 2],
        endpoint="chat", model=("gpt-4o", "claude-sonnet")[i % 2], host="api.openai.com", region="eu",
        stream=True, status=200, allowed=True, reasons=[], policy_revision="rev-42",
        policy_input='{"principal":{"id":"dev"},"findings":{"EMAIL_ADDRESS":1}}', finding_counts={"EMAIL_ADDRESS": 1},
        audit_level="full", prompt=text, response=text[: len(text) // 2], input_tokens=700, output_tokens=150,
        cost_usd=0.0031, latency_ms=812.5, upstream_ms=800.1, overhead_ms=3.2, ttfb_ms=210.0, request_id=f"r{i}",
    )


def cpu_pressure() -> str:
    """Linux PSI: how much of the time runnable tasks waited for a CPU (other load skews wall time)."""
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0].split()[1]
    except (OSError, IndexError):
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--text-bytes", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=5000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="audit-ingest-"))
    base = "def handler(request):\n    return render(request, 'index.html', {'user': user}) # [PII_EMAIL_ADDRESS_1]\n"
    text = (base * (args.text_bytes // len(base) + 1))[: args.text_bytes]
    try:
        cfg = AuditConfig(batch_max_events=args.batch)
        a = Auditor(cfg, tmp, lambda: ChdbStore(tmp / "chdb", cfg.database))
        a.store()  # open + migrate outside the timing
        lat = []
        t0 = time.perf_counter()
        for i in range(args.n):
            s = time.perf_counter_ns()
            a.record(event(i, text))
            lat.append(time.perf_counter_ns() - s)
        rec_s = time.perf_counter() - t0
        spool_mb = a.metrics()["spool_bytes"] / 1e6
        t1, c1 = time.perf_counter(), time.process_time()
        a.start()
        ok = a.flush(timeout=600)
        ship_s, ship_cpu = time.perf_counter() - t1, time.process_time() - c1
        n_rows = a.store().select("SELECT count() AS n FROM events")[0]["n"]
        t2 = time.perf_counter()
        verified = a.verify()
        verify_s = time.perf_counter() - t2
        a.close()
        lat.sort()
        print("| measure | value |")
        print("|---|---|")
        print(f"| events | {args.n:,} ({args.text_bytes} B prompt + {args.text_bytes // 2} B response) |")
        print(f"| record() p50 / p99 | {lat[len(lat) // 2] / 1000:.1f} us / {lat[int(len(lat) * 0.99)] / 1000:.1f} us |")
        print(f"| record() mean rate | {args.n / rec_s:,.0f} events/s (one thread) |")
        print(f"| spool size | {spool_mb:,.1f} MB |")
        print(f"| ship spool -> chDB | {ship_s:.2f} s = **{args.n / ship_s:,.0f} events/s** (target >= 20,000) |")
        print(f"| ship CPU (all threads, incl. chDB) | {ship_cpu:.2f} s = {args.n / ship_cpu:,.0f} events per CPU-second |")
        print(f"| rows in events | {n_rows:,} (flushed: {ok}) |")
        print(f"| verify hash chain | {verify_s:.2f} s = {verified.events / verify_s:,.0f} events/s (ok: {verified.ok}) |")
        print(f"| cpu count | {os.cpu_count()}; CPU pressure from other processes: {cpu_pressure()} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
