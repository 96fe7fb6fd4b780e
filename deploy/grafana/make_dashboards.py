"""Grafana dashboards (ROI and compliance) generated from the named queries in audit/queries.

Each panel's SQL is a named query with its ClickHouse parameters turned into Grafana's: the
time range for `since`/`until` and dashboard variables for `team`/`user`. So Grafana, the admin
dashboard and `customs audit query` read the same numbers, and a changed query changes the panel
(tests/deploy checks the committed JSON equals what this generates).

Run: python -m deploy.grafana.make_dashboards [--check]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from audit.named_queries import load_queries  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "customs-clickhouse"}
PLUGIN_VERSION = "4.5.1"
_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*):([^{}]+)\}")
# What each named-query parameter becomes in Grafana.
GRAFANA_PARAMS = {
    "since": "toDateTime64($__fromTime, 3, 'UTC')",
    "until": "toDateTime64($__toTime, 3, 'UTC')",
    "team": "${team:sqlstring}",
    "user": "${user:sqlstring}",
}


@dataclass(frozen=True, slots=True)
class Panel:
    query: str  # audit/queries/<query>.sql
    title: str
    kind: str = "table"  # Grafana panel type
    width: int = 12
    height: int = 8


DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "customs-roi": ("Customs — ROI", [
        Panel("tokens_cost_by_team_model_day", "Tokens and cost by day, team and model", width=24),
        Panel("requests_per_active_developer", "Requests per active developer", "barchart"),
        Panel("copilot_acceptance_rate", "Copilot acceptance rate", "barchart"),
        Panel("latency_quantiles_by_provider", "Latency p50/p95/p99 by provider (ms)", width=24),
    ]),
    "customs-compliance": ("Customs — Compliance", [
        Panel("secrets_pii_by_type_team", "Secrets and PII caught, by type and team", "barchart"),
        Panel("denials_by_rule", "Denials by policy rule"),
        Panel("residency_violations", "Residency violations", width=24),
        Panel("policy_changes", "Policy revisions in use"),
        Panel("audit_queries", "Audit queries (who looked at the audit data)"),
        Panel("user_activity", "One user's activity (set the user variable)", width=24, height=10),
        Panel("policy_inputs", "Recorded policy inputs (what `customs policy replay` evaluates)", width=24),
    ]),
}


def grafana_sql(sql: str) -> str:
    """A named query's SQL with its {name:Type} parameters replaced by Grafana macros/variables."""
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in GRAFANA_PARAMS:
            raise ValueError(f"no Grafana mapping for query parameter {m.group(1)!r}")
        return GRAFANA_PARAMS[m.group(1)]
    return _PARAM.sub(sub, sql)


def _variable(name: str, label: str) -> dict[str, Any]:
    return {"type": "textbox", "name": name, "label": label, "query": "", "current": {"text": "", "value": ""},
            "hide": 0, "description": f"empty: every {name}"}


def dashboard(uid: str) -> dict[str, Any]:
    """The Grafana dashboard JSON for one of DASHBOARDS."""
    title, panels = DASHBOARDS[uid]
    queries = load_queries()
    out_panels: list[dict[str, Any]] = []
    x = y = row_h = 0
    for i, p in enumerate(panels, start=1):
        q = queries[p.query]
        if x + p.width > 24:
            x, y, row_h = 0, y + row_h, 0
        out_panels.append({
            "id": i,
            "type": p.kind,
            "title": p.title,
            "description": f"{q.description} (named query `{p.query}`)",
            "datasource": DATASOURCE,
            "gridPos": {"x": x, "y": y, "w": p.width, "h": p.height},
            "targets": [{
                "refId": "A",
                "datasource": DATASOURCE,
                "editorType": "sql",
                "format": 1,
                "queryType": "table",
                "pluginVersion": PLUGIN_VERSION,
                "rawSql": grafana_sql(q.sql),
            }],
            "options": {},
            "fieldConfig": {"defaults": {}, "overrides": []},
        })
        x, row_h = x + p.width, max(row_h, p.height)
    return {
        "uid": uid,
        "title": title,
        "tags": ["customs"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": [_variable("team", "Team"), _variable("user", "User")]},
        "panels": out_panels,
    }


def render(uid: str) -> str:
    """The committed file's text for one dashboard."""
    return json.dumps(dashboard(uid), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Render the Grafana dashboards from audit/queries.")
    ap.add_argument("--check", action="store_true", help="exit 1 if a committed dashboard differs")
    args = ap.parse_args(argv)
    stale = 0
    for uid in DASHBOARDS:
        path = OUT_DIR / f"{uid}.json"
        text = render(uid)
        if args.check:
            if not path.exists() or path.read_text() != text:
                print(f"stale: {path.relative_to(REPO)}")
                stale += 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
