"""Admin routes for the audit store (the lead mounts them in the admin app).

Audit data is the most sensitive thing Customs holds: every route needs a principal with the
auditor or admin role (401 without a credential, 403 with the wrong role), except that a
developer may read their own usage. Every access, allowed or refused, lands in query_log.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from audit.auditor import Auditor
from audit.dashboard import dashboard_data, render_dashboard
from audit.named_queries import QueryError
from audit.store import StoreError
from proxy.exchange import Principal

AUDIT_ROLES = frozenset({"auditor", "admin"})
# Queries a developer may run, always narrowed to their own user.
DEVELOPER_QUERIES = frozenset({"user_activity", "tokens_cost_by_team_model_day"})
FILTERS = ("since", "until", "user", "team")
COOKIE = "customs_admin_key"

_LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Customs audit sign-in</title></head>
<body style="font:14px system-ui;margin:40px"><h1>Customs audit</h1>
<p>An auditor or admin key is required.</p>
<form method="post" action="/dashboard/login"><input type="password" name="key" placeholder="Customs key" autofocus>
<button type="submit">Sign in</button></form></body></html>"""


def audit_routes(auditor: Auditor, authenticate: Callable[[Request], Principal | None]) -> list[Route]:
    """Routes: /audit/queries, /audit/query/{name}, /audit/verify, /dashboard, /dashboard/data."""

    def principal_of(request: Request) -> Principal | None:
        p = authenticate(request)
        key = request.cookies.get(COOKIE)
        if p is None and key:
            # A browser cannot send a header on navigation; the sign-in cookie stands in for it.
            headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
            headers.append((b"authorization", b"Bearer " + key.encode("latin-1", "ignore")))
            p = authenticate(Request({**request.scope, "headers": headers}))
        return p

    def refuse(request: Request, p: Principal | None, name: str, params: dict[str, Any]) -> Response | None:
        if p is None:
            return JSONResponse({"error": "an auditor or admin key is required (Authorization: Bearer <key>)"}, 401)
        auditor.log_access(p.id, name, params, "denied")
        return JSONResponse({"error": f"{p.id} may not read {name}"}, 403)

    def is_auditor(p: Principal) -> bool:
        return bool(AUDIT_ROLES & set(p.roles))

    async def list_queries(request: Request) -> Response:
        p = principal_of(request)
        if p is None:
            return refuse(request, p, "queries", {})  # type: ignore[return-value]
        names = sorted(auditor.queries) if is_auditor(p) else sorted(DEVELOPER_QUERIES & set(auditor.queries))
        return JSONResponse({"queries": [
            {"name": n, "description": auditor.queries[n].description, "params": sorted(auditor.queries[n].params)}
            for n in names
        ]})

    async def run_query(request: Request) -> Response:
        name = request.path_params["name"]
        params = {k: request.query_params[k] for k in FILTERS if request.query_params.get(k)}
        p = principal_of(request)
        if p is None:
            return refuse(request, p, name, params)  # type: ignore[return-value]
        if not is_auditor(p):
            if name not in DEVELOPER_QUERIES or params.get("user", p.id) != p.id or "team" in params:
                return refuse(request, p, name, params)  # type: ignore[return-value]
            params["user"] = p.id
        try:
            rows = await run_in_threadpool(auditor.query, name, params, p.id)
        except QueryError as e:
            status = 404 if name not in auditor.queries else 400
            return JSONResponse({"error": str(e)}, status)
        except StoreError as e:
            return JSONResponse({"error": f"audit store unavailable: {e}"}, 503)
        if request.query_params.get("format") == "csv":
            return Response(to_csv(rows), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
        return JSONResponse({"query": name, "params": params, "rows": rows})

    async def verify(request: Request) -> Response:
        p = principal_of(request)
        if p is None or not is_auditor(p):
            return refuse(request, p, "verify", {})  # type: ignore[return-value]
        try:
            result = await run_in_threadpool(auditor.verify)
        except StoreError as e:
            return JSONResponse({"error": f"audit store unavailable: {e}"}, 503)
        auditor.log_access(p.id, "verify", {}, "ok" if result.ok else "broken", result.events)
        return JSONResponse(result.as_dict(), 200 if result.ok else 409)

    async def data(p: Principal) -> dict[str, Any]:
        return await run_in_threadpool(dashboard_data, lambda n, prm: auditor.query(n, dict(prm), p.id))

    async def dashboard(request: Request) -> Response:
        p = principal_of(request)
        if p is None:
            return HTMLResponse(_LOGIN_PAGE, 401)
        if not is_auditor(p):
            return refuse(request, p, "dashboard", {})  # type: ignore[return-value]
        try:
            return HTMLResponse(render_dashboard(await data(p), p.id))
        except StoreError as e:
            return JSONResponse({"error": f"audit store unavailable: {e}"}, 503)

    async def dashboard_json(request: Request) -> Response:
        p = principal_of(request)
        if p is None or not is_auditor(p):
            return refuse(request, p, "dashboard", {})  # type: ignore[return-value]
        try:
            return JSONResponse(await data(p))
        except StoreError as e:
            return JSONResponse({"error": f"audit store unavailable: {e}"}, 503)

    async def login(request: Request) -> Response:
        # urlencoded form parsed by hand: starlette's form parser needs python-multipart
        form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
        key = (form.get("key") or [""])[0]
        headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
        headers.append((b"authorization", b"Bearer " + key.encode("latin-1", "ignore")))
        p = authenticate(Request({**request.scope, "headers": headers})) if key else None
        if p is None or not is_auditor(p):
            if p is not None:
                auditor.log_access(p.id, "dashboard", {}, "denied")
            return HTMLResponse(_LOGIN_PAGE, 401 if p is None else 403)
        resp = RedirectResponse("/dashboard", 303)
        resp.set_cookie(COOKIE, key, httponly=True, samesite="strict", path="/", max_age=8 * 3600)
        return resp

    return [
        Route("/audit/queries", list_queries, methods=["GET"]),
        Route("/audit/query/{name}", run_query, methods=["GET"]),
        Route("/audit/verify", verify, methods=["GET"]),
        Route("/dashboard", dashboard, methods=["GET"]),
        Route("/dashboard/data", dashboard_json, methods=["GET"]),
        Route("/dashboard/login", login, methods=["POST"]),
    ]


def to_csv(rows: list[dict]) -> str:
    """Rows as CSV; arrays and maps as JSON text in their cell."""
    if not rows:
        return ""
    buf = io.StringIO()
    w = csv.writer(buf)
    cols = list(rows[0])
    w.writerow(cols)
    for r in rows:
        w.writerow([json.dumps(v) if isinstance(v, (list, dict)) else v for v in (r.get(c) for c in cols)])
    return buf.getvalue()
