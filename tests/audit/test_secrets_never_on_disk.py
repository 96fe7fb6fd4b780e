"""Planted secrets, masked the way the proxy masks them, never reach the spool, the tables or logs."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from audit import AuditConfig, open_auditor
from redaction import Scanner, Vault, mask
from tests.audit.conftest import make_event

SECRETS = [
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "john.doe@example.com",
]
PROMPT = (
    "deploy with AKIAIOSFODNN7EXAMPLE and aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    "token ghp_abcdefghijklmnopqrstuvwxyz0123456789, ping john.doe@example.com when done"
)
TABLES = ["events", "acceptances", "query_log", "usage_daily", "schema_migrations"]


def _dump_everything(a, data_dir: Path) -> str:
    """Spool bytes plus every row of every table, as text."""
    out = [p.read_bytes().decode("utf-8", "replace") for p in (data_dir / "spool").rglob("*") if p.is_file()]
    for t in TABLES:
        out.append(json.dumps(a.store().select(f"SELECT * FROM {t}")))
    return "\n".join(out)


def test_masked_exchange_leaves_no_secret_in_spool_tables_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    scanner, vault = Scanner(), Vault()
    findings = scanner.scan(PROMPT)
    assert {f.type for f in findings} >= {"AWS_ACCESS_KEY", "GITHUB_TOKEN", "EMAIL_ADDRESS"}
    masked = mask(PROMPT, findings, vault, lambda f: "mask")
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.type] = counts.get(f.type, 0) + 1
    # the model answers with a placeholder; the proxy restores it for the client, the audit keeps it masked
    response = "Use [SECRET_AWS_ACCESS_KEY_1] in the config."
    policy_input = json.dumps({"findings": counts, "principal": {"id": "dev1"}})

    a = open_auditor(AuditConfig(), tmp_path)
    try:
        for i in range(5):
            a.record(make_event(i, prompt=masked, response=response, finding_counts=counts, policy_input=policy_input))
        a.query("user_activity", {"user": "dev1", "since": "1d"}, "auditor")
        assert a.flush(10)
        everything = _dump_everything(a, tmp_path)
        assert "[SECRET_AWS_ACCESS_KEY_1]" in everything  # the evidence is there, masked
        for secret in SECRETS:
            assert secret not in everything
            assert secret not in caplog.text
        assert a.metrics()["scrubbed_secrets_total"] == 0  # nothing slipped through upstream
    finally:
        a.close()


def test_unredacted_secret_from_a_buggy_caller_is_scrubbed_before_the_spool(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    a = open_auditor(AuditConfig(), tmp_path)
    try:
        a.record(make_event(1, prompt=PROMPT, error="upstream said: Authorization: Bearer sk-proj-abcdefghijklmnopqrstuvwxyz012345"))
        a.query("user_activity", {"user": "AKIAIOSFODNN7EXAMPLE", "since": "1d"}, "auditor")
        assert a.flush(10)
        everything = _dump_everything(a, tmp_path)
        for secret in ("AKIAIOSFODNN7EXAMPLE", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "sk-proj-abcdefghijklmnopqrstuvwxyz012345"):
            assert secret not in everything
            assert secret not in caplog.text
        assert "[SECRET_REDACTED_BY_AUDIT]" in everything
        assert a.metrics()["scrubbed_secrets_total"] >= 3
        assert a.verify().ok  # the chain covers the scrubbed text
    finally:
        a.close()
