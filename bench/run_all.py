"""`make bench`: every benchmark in one run, each printing its own markdown table.

Results go to stdout and to bench/results/latest.md; the README quotes them. Each benchmark
measures its peers side by side in the same run, so compare ratios, not absolute numbers.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ("Proxy overhead (issue #2)", ["-m", "bench.proxy_overhead"]),
    ("Redaction speed (issue #3)", ["-m", "bench.redaction_speed"]),
    ("Redaction quality (issue #3)", ["-m", "bench.redaction_quality"]),
    ("Policy decision latency (issue #4)", ["-m", "bench.policy_latency"]),
    ("Budget ledger (issue #5)", ["-m", "bench.budget_ledger"]),
    ("Audit ingest (issue #7)", ["-m", "bench.audit_ingest"]),
    ("Audit query over 10M events (issue #7)", ["-m", "bench.audit_query"]),
    ("Two replicas (issue #6)", ["-m", "bench.scale_out"]),
]


def main() -> int:
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    report = [f"# Benchmarks ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n"]
    failed = 0
    for title, args in BENCHES:
        module = args[-1].split(".")[-1]
        if not (HERE / f"{module}.py").exists():
            continue
        print(f"\n## {title}\n", flush=True)
        proc = subprocess.run([sys.executable, *args], cwd=HERE.parent, capture_output=True, text=True, timeout=1800)
        text = proc.stdout.strip() or proc.stderr.strip()[-2000:]
        if proc.returncode:
            failed += 1
            text += f"\n\n(exit {proc.returncode})"
        print(text, flush=True)
        report.append(f"## {title}\n\n{text}\n")
    (out_dir / "latest.md").write_text("\n".join(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
