"""The admin app (starlette): health, readiness, Prometheus metrics, budgets and the audit views."""
from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from audit.http_api import audit_routes
from proxy.exchange import Principal
from proxy.identity import Directory
from proxy.services import Services

ADMIN_ROLES = frozenset({"auditor", "admin"})


def bearer_authenticator(directory: Directory) -> Callable[[Request], Principal | None]:
    """Admin credentials are virtual keys: `Authorization: Bearer <key>` or `X-Customs-Key`."""

    def authenticate(request: Request) -> Principal | None:
        key = request.headers.get("x-customs-key")
        if not key:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            key = value.strip() if scheme.lower() == "bearer" else None
        return directory.principal_for_key(key)

    return authenticate


def build_admin_app(s: Services, ready: Callable[[], dict[str, bool]]) -> Starlette:
    authenticate = bearer_authenticator(s.directory)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(_: Request) -> Response:
        checks = ready()
        return JSONResponse({"ready": all(checks.values()), "checks": checks},
                            status_code=200 if all(checks.values()) else 503)

    async def metrics(_: Request) -> Response:
        for name, value in s.auditor.metrics().items():
            if name == "spool_bytes":
                s.metrics.spool_bytes.set(value)
            elif name == "spool_events_pending":
                s.metrics.spool_pending.set(value)
        return Response(s.metrics.render(), media_type="text/plain; version=0.0.4")

    async def budgets(request: Request) -> Response:
        principal = authenticate(request)
        if principal is None:
            return JSONResponse({"error": "a Customs key is required (Authorization: Bearer <key>)"}, status_code=401)
        if ADMIN_ROLES & set(principal.roles):
            rows = s.ledger.report(user=request.query_params.get("user"), team=request.query_params.get("team"))
        else:  # developers see their own usage only
            rows = s.ledger.report(user=principal.id)
        return JSONResponse({"budgets": rows})

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/budgets", budgets),
        *audit_routes(s.auditor, authenticate),
    ]
    return Starlette(routes=routes)
