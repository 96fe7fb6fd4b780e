"""The `customs` command: run the proxy, show the CA, and the policy/budget/audit tools."""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from proxy.config import load_config

if TYPE_CHECKING:
    from proxy.policy_cli import ReplayRecord


def _cmd_run(args: argparse.Namespace) -> int:
    from proxy.service import run

    return run(load_config(args.config))


def _cmd_ca(args: argparse.Namespace) -> int:
    from proxy.ca import ensure_ca, trust_instructions

    config = load_config(args.config)
    print(trust_instructions(ensure_ca(config.ca_dir)))
    return 0


def _recorded_policy_inputs(since: timedelta | None) -> Iterator[ReplayRecord]:
    """Policy inputs from the audit trail, through the admin API (CUSTOMS_ADMIN, CUSTOMS_KEY)."""
    import httpx

    from proxy.policy_cli import ReplayRecord

    config = load_config(None)
    host, port = config.listen.admin
    base = os.environ.get("CUSTOMS_ADMIN") or f"http://{host}:{port}"
    key = os.environ.get("CUSTOMS_KEY")
    if not key:
        raise SystemExit("replaying the audit trail needs an auditor or admin key in CUSTOMS_KEY (or use --inputs)")
    minutes = max(1, int(since.total_seconds() // 60)) if since else 7 * 24 * 60
    r = httpx.get(f"{base}/audit/query/policy_inputs", params={"since": f"{minutes}m"},
                  headers={"authorization": f"Bearer {key}"}, timeout=300)
    if r.status_code != 200:
        raise SystemExit(f"audit trail refused ({r.status_code}): {r.text[:200]}")
    for row in r.json()["rows"]:
        decision = {"allow": bool(row["allowed"]), "reasons": list(row["reasons"]), "audit_level": row["audit_level"]}
        when = datetime.fromisoformat(str(row["time"]).replace(" ", "T").replace("Z", "+00:00"))
        yield ReplayRecord(str(row["id"]), when if when.tzinfo else when.replace(tzinfo=UTC),
                           json.loads(row["policy_input"]), decision)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="customs", description="Customs: governance proxy for AI coding traffic")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="start the proxy, the gateway and the admin app")
    p.add_argument("--config", help="YAML config file (default: $CUSTOMS_CONFIG or built-in defaults)")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("ca", help="print where the interception CA is and how to trust it")
    p.add_argument("--config", help="YAML config file")
    p.set_defaults(func=_cmd_ca)
    from audit.cli import add_parser as add_audit
    from proxy.budgets.cli import add_parser as add_budgets
    from proxy.policy_cli import add_parser as add_policy

    add_policy(sub, audit_source=_recorded_policy_inputs)
    add_budgets(sub)
    add_audit(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
