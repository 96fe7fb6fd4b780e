"""Access control and answers of the audit admin routes (starlette TestClient, real chDB store)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.testclient import TestClient

from audit import Auditor
from audit.http_api import audit_routes
from proxy.exchange import Principal
from tests.audit.conftest import make_event

KEYS = {
    "k-auditor": Principal(id="ann", team="compliance", roles=("auditor",)),
    "k-admin": Principal(id="root", team="platform", roles=("admin",)),
    "k-dev": Principal(id="dev1", team="search", roles=("developer",)),
}


def authenticate(request: Request) -> Principal | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return KEYS.get(value.strip()) if scheme.lower() == "bearer" else None


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def client(auditor: Auditor) -> Iterator[TestClient]:
    for i in range(12):
        auditor.record(make_event(i, allowed=i % 3 != 0, reasons=[] if i % 3 else ["role.model_not_allowed"]))
    assert auditor.flush(10)
    with TestClient(Starlette(routes=audit_routes(auditor, authenticate))) as c:
        yield c


@pytest.mark.parametrize("path", ["/audit/queries", "/audit/query/denials_by_rule", "/audit/verify", "/dashboard", "/dashboard/data"])
def test_missing_credential_is_401(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers=auth("not-a-key")).status_code == 401


@pytest.mark.parametrize("path", ["/audit/query/denials_by_rule", "/audit/query/user_activity?user=dev2",
                                  "/audit/query/tokens_cost_by_team_model_day?team=search",
                                  "/audit/verify", "/dashboard", "/dashboard/data"])
def test_developer_is_403_outside_their_own_usage(client: TestClient, path: str) -> None:
    assert client.get(path, headers=auth("k-dev")).status_code == 403


def test_developer_sees_only_their_own_usage(client: TestClient) -> None:
    r = client.get("/audit/query/tokens_cost_by_team_model_day?since=2d", headers=auth("k-dev"))
    assert r.status_code == 200
    assert sum(x["requests"] for x in r.json()["rows"]) == 3  # dev1 is i % 4 == 1: 1, 5, 9
    r = client.get("/audit/query/user_activity?since=2d", headers=auth("k-dev"))
    assert r.status_code == 200 and r.json()["params"]["user"] == "dev1" and len(r.json()["rows"]) == 3
    listed = {q["name"] for q in client.get("/audit/queries", headers=auth("k-dev")).json()["queries"]}
    assert listed == {"user_activity", "tokens_cost_by_team_model_day"}


def test_auditor_runs_named_queries_as_json_and_csv(client: TestClient) -> None:
    listed = {q["name"] for q in client.get("/audit/queries", headers=auth("k-auditor")).json()["queries"]}
    assert {"denials_by_rule", "secrets_pii_by_type_team", "copilot_acceptance_rate", "audit_queries"} <= listed
    r = client.get("/audit/query/denials_by_rule?since=7d", headers=auth("k-auditor"))
    assert r.status_code == 200 and r.json()["rows"][0]["denials"] == 4
    r = client.get("/audit/query/denials_by_rule?since=7d&format=csv", headers=auth("k-admin"))
    assert r.status_code == 200 and r.text.splitlines()[0].startswith("rule,denials")
    assert "role.model_not_allowed,4," in r.text
    assert client.get("/audit/query/nope", headers=auth("k-admin")).status_code == 404
    assert client.get("/audit/query/denials_by_rule?since=whenever", headers=auth("k-admin")).status_code == 400


def test_verify_route_reports_chain_state(client: TestClient) -> None:
    r = client.get("/audit/verify", headers=auth("k-auditor"))
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["events"] == 12


def test_every_access_is_audited_including_refusals(client: TestClient, auditor: Auditor) -> None:
    client.get("/audit/query/denials_by_rule", headers=auth("k-auditor"))
    client.get("/audit/query/denials_by_rule", headers=auth("k-dev"))
    client.get("/audit/verify", headers=auth("k-admin"))
    assert auditor.flush(10)
    log = auditor.query("audit_queries", {"since": "1h"}, "test")
    seen = {(r["principal"], r["name"], r["status"]) for r in log}
    assert {("ann", "denials_by_rule", "ok"), ("dev1", "denials_by_rule", "denied"), ("root", "verify", "ok")} <= seen


def test_dashboard_sign_in_sets_a_cookie_that_opens_the_page(client: TestClient) -> None:
    assert client.post("/dashboard/login", data={"key": "k-dev"}, follow_redirects=False).status_code == 403
    r = client.post("/dashboard/login", data={"key": "k-auditor"}, follow_redirects=False)
    assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
    page = client.get("/dashboard")
    assert page.status_code == 200 and 'id="chart-cost"' in page.text and "cdn" not in page.text.lower()
