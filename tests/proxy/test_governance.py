"""Policy, redaction actions and audit through the running proxy (the pipeline's steps 3-10)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.proxy.harness import ALICE, ERIN, Customs, FakeUpstream

CAROL = "ck-carol-dev-0003"  # support role, EU only
DAVE = "ck-dave-ctr-0004"  # contractor: self-hosted models only
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Zr3hXq8m1Kc2vL7pQ9sT4uW6yB8dF0gH2jK4lN6pR8tV0xZ\n"
       "c3bD5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5mN7pQ9rS1tU3vW\n-----END RSA PRIVATE KEY-----")
SECRET = "sk-proj-" + "Qw3rTy8uIoP1aSdFgHjKlZxCvBnM4567890abcDEFghiJKLmnoPQRstuvWXyz"


def chat(customs: Customs, key: str, content: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{customs.gateway}/openai/v1/chat/completions", timeout=30,
                      headers={"authorization": f"Bearer {key}", **headers},
                      json={"model": "gpt-4o", "messages": [{"role": "user", "content": content}]})


def test_contractor_is_denied_an_external_provider_with_the_rule_named(customs: Customs, upstream: FakeUpstream) -> None:
    before = len(upstream.requests())
    r = chat(customs, DAVE, "hello")
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["type"] == "permission_error" and "policy denied" in err["message"]
    assert len(upstream.requests()) == before


def test_contractor_may_use_the_self_hosted_model(customs: Customs) -> None:
    r = httpx.post(f"{customs.gateway}/compat/local/v1/chat/completions", headers={"authorization": f"Bearer {DAVE}"},
                   json={"model": "qwen2.5-coder", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text


def test_eu_only_principal_is_routed_to_the_in_region_endpoint(customs: Customs, upstream: FakeUpstream,
                                                               eu_upstream: FakeUpstream) -> None:
    us_before, eu_before = len(upstream.requests()), len(eu_upstream.requests())
    r = chat(customs, CAROL, "route me")
    assert r.status_code == 200, r.text
    assert len(eu_upstream.requests()) == eu_before + 1
    assert len(upstream.requests()) == us_before


def test_support_role_keeps_emails_while_developers_get_them_masked(customs: Customs, upstream: FakeUpstream,
                                                                    eu_upstream: FakeUpstream) -> None:
    email = "customer.care@example.net"
    assert chat(customs, CAROL, f"reply to {email}").status_code == 200
    assert email in eu_upstream.last()["body"]
    assert chat(customs, ALICE, f"reply to {email}").status_code == 200
    assert email not in upstream.last()["body"]


def test_private_key_blocks_the_request_for_everyone(customs: Customs, upstream: FakeUpstream) -> None:
    before = len(upstream.requests())
    client = openai.OpenAI(base_url=f"{customs.gateway}/openai/v1", api_key=ALICE, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"fix\n{PEM}\n"}])
    assert "PRIVATE_KEY" in str(exc.value)
    assert "MIIEowIBAAKCAQEA" not in str(exc.value)  # the value itself is never echoed
    assert len(upstream.requests()) == before


def test_proprietary_code_never_goes_to_an_external_provider(customs: Customs) -> None:
    code = "# Copyright (c) 2026 Acme Corp. Proprietary and confidential.\n# Unauthorized copying of this file is strictly prohibited.\nx = 1\n"
    r = chat(customs, ALICE, code)
    assert r.status_code == 403 and "license" in r.json()["error"]["message"].lower() + r.json()["error"].get("code", "")


def test_code_from_a_restricted_repo_is_refused(customs: Customs) -> None:
    r = chat(customs, ALICE, "def f(): pass", **{"x-customs-repo": "acme/crown-jewels"})
    assert r.status_code == 403


def test_audit_trail_records_redacted_exchanges_for_auditors_only(customs: Customs) -> None:
    assert chat(customs, ALICE, f"audit me {SECRET}").status_code == 200
    rows: list[dict] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = httpx.get(f"{customs.admin}/audit/query/user_activity", params={"user": "alice", "since": "1d"},
                      headers={"authorization": f"Bearer {ERIN}"}, timeout=30)
        assert r.status_code == 200, r.text
        rows = [row for row in r.json()["rows"] if "audit me" in row["prompt"]]
        if rows:
            break
        time.sleep(0.3)
    assert rows, "the exchange never reached the audit store"
    row = rows[-1]
    assert SECRET not in json.dumps(row)
    assert "[SECRET_" in row["prompt"]
    assert row["input_tokens"] > 0 and row["status"] == 200
    assert httpx.get(f"{customs.admin}/audit/query/user_activity", params={"user": "alice"}).status_code == 401
    assert httpx.get(f"{customs.admin}/audit/query/denials_by_rule",
                     headers={"authorization": f"Bearer {ALICE}"}).status_code == 403


def test_planted_secrets_never_reach_disk_or_logs(customs: Customs) -> None:
    assert chat(customs, ALICE, f"plant {SECRET} here").status_code == 200
    time.sleep(1.0)  # let the spool sync and the writer ship
    needle = SECRET.encode()
    for path in Path(customs.data_dir).rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"secret found in {path}"
    assert SECRET not in customs.logs()


def test_policy_replay_shows_which_recorded_decisions_a_proposed_policy_changes(customs: Customs, tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess

    from tests.proxy.harness import BIN, REPO

    assert chat(customs, DAVE, "contractor asks again").status_code == 403
    proposed = tmp_path / "proposed"
    shutil.copytree(REPO / "policies", proposed)
    perms = proposed / "data" / "permissions.yaml"
    perms.write_text(perms.read_text().replace("self_hosted_only: true", "self_hosted_only: false"))
    env = {**os.environ, "CUSTOMS_KEY": ERIN, "CUSTOMS_ADMIN": customs.admin}
    deadline = time.monotonic() + 20
    out = ""
    while time.monotonic() < deadline:  # the denial must have been shipped to the audit store
        proc = subprocess.run([str(BIN / "customs"), "policy", "replay", "--policy", str(proposed), "--since", "1d"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
        if "deny -> allow" in out:
            break
        time.sleep(0.5)
    assert "deny -> allow" in out and "-roles." in out
    assert "decisions would change" in out
