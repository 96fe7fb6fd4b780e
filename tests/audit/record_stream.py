"""A stand-in proxy process for the crash test: records events 0, 1, 2, ... until killed,
printing how many record() calls have returned."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from audit import AuditConfig, open_auditor
from tests.audit.conftest import make_event


def main() -> None:
    data_dir = Path(sys.argv[1])
    a = open_auditor(AuditConfig(batch_max_events=40, fsync_interval_ms=20), data_dir)
    i = 0
    while True:  # bounded by the test, which kills this process
        a.record(make_event(i, id=f"{i:032d}"))
        i += 1
        if i % 10 == 0:
            print(i, flush=True)
            time.sleep(0.001)
        if i >= 200_000:
            return


if __name__ == "__main__":
    main()
