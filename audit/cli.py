"""`customs audit`: run named queries and verify the hash chain.

While the proxy runs it owns the chDB data directory, so by default the CLI asks the admin API
(`--admin`, with an auditor/admin key from `--key` or $CUSTOMS_KEY). `--local` opens the store
directly, for when the proxy is stopped.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any, TextIO

FORMATS = ("table", "csv", "json")


def add_parser(subparsers: Any) -> None:
    """Register `audit query NAME ...`, `audit queries` and `audit verify`."""
    p = subparsers.add_parser("audit", help="query the audit trail, verify its hash chain")
    sub = p.add_subparsers(dest="audit_command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--admin", help="admin API base URL (default: the configured admin listener)")
        sp.add_argument("--key", help="auditor or admin key (default: $CUSTOMS_KEY)")
        sp.add_argument("--local", action="store_true", help="open the store directly (proxy not running)")
        sp.add_argument("--config", help="YAML config file (default: $CUSTOMS_CONFIG or built-in defaults)")

    q = sub.add_parser("query", help="run a named compliance or ROI query")
    q.add_argument("name", help="query name (see `customs audit queries`)")
    q.add_argument("--since", default="7d", help="7d, 24h, 30m or an ISO date/time (default 7d)")
    q.add_argument("--until", help="end of the period (default now)")
    q.add_argument("--user", help="only this user")
    q.add_argument("--team", help="only this team")
    q.add_argument("--format", choices=FORMATS, default="table")
    common(q)
    q.set_defaults(func=cmd_query)

    ls = sub.add_parser("queries", help="list the named queries")
    common(ls)
    ls.set_defaults(func=cmd_queries)

    v = sub.add_parser("verify", help="check the audit hash chain; exit 1 on a broken link")
    common(v)
    v.set_defaults(func=cmd_verify)


# -- transports ------------------------------------------------------------------------------
def _config(args: argparse.Namespace) -> Any:
    from proxy.config import load_config

    return load_config(args.config)


def _admin_get(args: argparse.Namespace, path: str, params: dict[str, str]) -> tuple[int, Any]:
    import httpx

    base = args.admin
    if not base:
        host, port = _config(args).listen.admin
        base = f"http://{host}:{port}"
    key = args.key or os.environ.get("CUSTOMS_KEY")
    if not key:
        raise SystemExit("an auditor or admin key is required: --key KEY or CUSTOMS_KEY")
    try:
        r = httpx.get(base.rstrip("/") + path, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    except httpx.HTTPError as e:
        raise SystemExit(f"admin API at {base} not reachable ({type(e).__name__}); is the proxy running? "
                         "(use --local when it is not)") from None
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
    if r.status_code in (401, 403):
        raise SystemExit(f"refused ({r.status_code}): {body.get('error') if isinstance(body, dict) else body}")
    return r.status_code, body


def _local(args: argparse.Namespace) -> Any:
    from audit import AuditConfig, open_auditor

    cfg = _config(args)
    try:
        a = open_auditor(AuditConfig.from_dict(cfg.audit), cfg.data_dir)
    except RuntimeError as e:
        raise SystemExit(f"{e}: the proxy is running and owns the store; drop --local to use the admin API") from None
    a.flush(timeout=30)  # ship what the last run left in the spool, so the answer includes it
    return a


def _principal() -> str:
    return f"local:{getpass.getuser()}"


# -- commands --------------------------------------------------------------------------------
def cmd_query(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from audit.named_queries import QueryError

    params = {k: getattr(args, k) for k in ("since", "until", "user", "team") if getattr(args, k)}
    if args.local:
        a = _local(args)
        try:
            rows = a.query(args.name, params, _principal())
        except QueryError as e:
            raise SystemExit(str(e)) from None
        finally:
            a.flush(timeout=5)
            a.close()
    else:
        status, body = _admin_get(args, f"/audit/query/{args.name}", params)
        if status != 200:
            raise SystemExit(f"error ({status}): {body.get('error') if isinstance(body, dict) else body}")
        rows = body["rows"]
    out.write(format_rows(rows, args.format))
    return 0


def cmd_queries(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if args.local:
        from audit.named_queries import load_queries

        rows = [{"name": q.name, "description": q.description, "params": sorted(q.params)} for q in load_queries().values()]
    else:
        _, body = _admin_get(args, "/audit/queries", {})
        rows = body["queries"]
    for r in rows:
        out.write(f"{r['name']:<32} {r['description']}\n")
    return 0


def cmd_verify(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if args.local:
        a = _local(args)
        try:
            result = a.verify().as_dict()
            a.log_access(_principal(), "verify", {}, "ok" if result["ok"] else "broken", result["events"])
        finally:
            a.flush(timeout=5)
            a.close()
    else:
        _, result = _admin_get(args, "/audit/verify", {})
    if result["ok"]:
        out.write(f"ok: {result['events']} events in {result['chains']} chains verified"
                  f" ({result['text_expired']} texts expired by retention)\n")
    else:
        b = result["first_broken"]
        out.write(f"BROKEN at chain {b['chain_id']} seq {b['chain_seq']} (event {b['id']}): {b['reason']}\n"
                  f"{result['events']} events checked before it\n")
    for note in result.get("notes", []):
        out.write(f"note: {note}\n")
    return 0 if result["ok"] else 1


def format_rows(rows: list[dict], fmt: str) -> str:
    """Rows as an aligned table, CSV or JSON."""
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        from audit.http_api import to_csv

        return to_csv(rows)
    if not rows:
        return "(no rows)\n"
    cols = list(rows[0])

    def cell(v: Any) -> str:
        s = json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else str(v)
        s = s.replace("\n", " ")
        return s if len(s) <= 60 else s[:57] + "..."

    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    numeric = [all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) for r in rows) for c in cols]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in cells)]) + "\n"
