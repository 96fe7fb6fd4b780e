"""A separate proxy-like process for the cross-process tests: `python -m tests.budgets.ledger_worker JSON`.

mode "race": wait for a start instant, reserve `n` times from `threads` threads, wait for the
peers to finish reserving, settle every granted reservation with usage derived from its index,
print a JSON summary.
mode "hold": reserve once, print RESERVED and sleep (the test kills it with SIGKILL).
"""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from proxy.budgets import BudgetConfig, BudgetExceeded, BudgetLimits, BudgetRequest, open_ledger


def usage_for(tag: str, i: int) -> tuple[int, int]:
    """Known, varied actual usage for the i-th granted request of worker `tag`."""
    return 60 + (i * 7 + len(tag)) % 41, 20 + (i * 13) % 61


def main(spec: dict) -> int:
    config = BudgetConfig.from_dict(spec["config"])
    ledger = open_ledger(config, Path(spec["data_dir"]), limits=BudgetLimits.from_dict(spec["limits"]))
    req = BudgetRequest(**spec["request"])
    if spec["mode"] == "hold":
        res = ledger.reserve(req)
        print("RESERVED", res.id, res.expires_at, flush=True)
        time.sleep(60)
        return 1
    granted, denied, errors = [], [], []
    lock = threading.Lock()

    def work(count: int) -> None:
        for _ in range(count):
            try:
                res = ledger.reserve(req)
                with lock:
                    granted.append(res)
            except BudgetExceeded:
                with lock:
                    denied.append(1)
            except Exception as e:  # noqa: BLE001 - reported to the test
                with lock:
                    errors.append(repr(e))

    per = spec["n"] // spec["threads"]
    threads = [threading.Thread(target=work, args=(per,)) for _ in range(spec["threads"])]
    time.sleep(max(0.0, spec["start_at"] - time.time()))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Settle only once every peer has finished reserving: settled usage is below the estimate,
    # so settling early would (rightly) free budget for the other process's later requests.
    sync = Path(spec["sync_dir"])
    (sync / f"reserved-{spec['tag']}").touch()
    deadline = time.monotonic() + 30
    while len(list(sync.glob("reserved-*"))) < spec["peers"] and time.monotonic() < deadline:
        time.sleep(0.01)
    settled_tokens = 0
    for i, res in enumerate(granted):
        inp, out = usage_for(spec["tag"], i)
        ledger.settle(res, inp, out)
        settled_tokens += inp + out
    ledger.close()
    print(json.dumps({"granted": len(granted), "denied": len(denied), "errors": errors,
                      "settled_tokens": settled_tokens}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
