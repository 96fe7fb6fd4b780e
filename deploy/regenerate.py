"""Every generated deploy file in one command: the ClickHouse DDL (from audit/migrations), the
Grafana dashboards (from audit/queries) and the Kubernetes policies ConfigMap (from policies/).

Run after changing any of those sources:  python -m deploy.regenerate [--check]
"""
from __future__ import annotations

import sys

from deploy.clickhouse import make_cluster_ddl
from deploy.grafana import make_dashboards
from deploy.k8s import make_policy_configmap

GENERATORS = (make_cluster_ddl.main, make_dashboards.main, make_policy_configmap.main)


def main(argv: list[str] | None = None) -> int:
    """Run each generator with the same arguments; non-zero if any reported stale files."""
    args = list(sys.argv[1:] if argv is None else argv)
    return max(gen(args) for gen in GENERATORS)


if __name__ == "__main__":
    sys.exit(main())
