"""The `customs` command: run the proxy, show the CA, and the policy/budget/audit tools."""
from __future__ import annotations

import argparse
import sys

from proxy.config import load_config


def _cmd_run(args: argparse.Namespace) -> int:
    from proxy.service import run

    return run(load_config(args.config))


def _cmd_ca(args: argparse.Namespace) -> int:
    from proxy.ca import ensure_ca, trust_instructions

    config = load_config(args.config)
    print(trust_instructions(ensure_ca(config.ca_dir)))
    return 0


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

    add_policy(sub)
    add_budgets(sub)
    add_audit(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
