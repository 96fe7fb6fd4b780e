"""`customs policy test|check|replay` through their functions and the argparse wiring."""
from __future__ import annotations

import argparse
import io
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from proxy.policy_cli import (
    add_parser,
    check_bundle,
    parse_since,
    print_changes,
    records_from_jsonl,
    replay,
    run_tests,
)

from .conftest import POLICIES
from .test_decision_table import ALICE, CAROL, OPENAI, make_input


def test_every_rego_test_in_the_bundle_passes() -> None:
    report = run_tests(POLICIES)
    failures = [f"{r.name}: {r.detail}" for r in report.results if r.outcome != "pass"]
    assert not report.errors, report.errors
    assert not failures, failures
    assert report.passed >= 70
    modules = {r.module for r in report.results}
    assert {"residency_test.rego", "roles_test.rego", "license_test.rego", "decision_test.rego",
            "budget_guard_test.rego", "audit_level_test.rego", "endpoints_test.rego"} <= modules


def test_a_failing_rego_test_is_reported(tmp_path: Path) -> None:
    dest = tmp_path / "p"
    shutil.copytree(POLICIES, dest)
    for other in dest.glob("*_test.rego"):  # keep the run short: one test module is enough
        if other.name != "audit_level_test.rego":
            other.unlink()
    (dest / "audit_level_test.rego").write_text(
        (dest / "audit_level_test.rego").read_text()
        + '\ntest_deliberately_wrong if {\n\taudit_level.level == "metadata" with input.principal.team as "payments"\n}\n'
    )
    report = run_tests(dest)
    failed = [r for r in report.results if r.outcome != "pass"]
    assert [r.name for r in failed] == ["data.customs.audit_level_test.test_deliberately_wrong"]
    assert not report.ok
    out = io.StringIO()
    from proxy.policy_cli import print_test_report

    print_test_report(report, out)
    assert "FAIL  data.customs.audit_level_test.test_deliberately_wrong" in out.getvalue()
    assert f"{report.passed} passed, 1 failed" in out.getvalue()


def test_check_is_clean_on_the_bundle() -> None:
    assert [str(p) for p in check_bundle(POLICIES)] == []


def test_check_reports_lint_and_compile_problems(tmp_path: Path) -> None:
    dest = tmp_path / "p"
    shutil.copytree(POLICIES, dest)
    (dest / "extra.rego").write_text("package other.extra\n\nx := http.send({})\n")
    (dest / "bad_test.rego").write_text(
        "package customs.bad_test\n\nimport rego.v1\n\ntest_x if { data.customs.allow with input as {} }\n")
    (dest / "fixture_test.rego").write_text(
        "package customs.fixture_test\n\nimport rego.v1\n\nbob := {\"id\": \"b\"}\n\n"
        "test_y if { data.customs.allow with input.principal as bob }\n")
    problems = [str(p) for p in check_bundle(dest)]
    text = "\n".join(problems)
    assert "extra.rego: package other.extra is not under customs.*" in text
    assert "extra.rego: does not `import rego.v1`" in text
    assert "extra.rego: no tests: extra_test.rego is missing" in text
    assert "bad_test.rego: `with input as`" in text
    assert "fixture_test.rego: `with ... as bob` names a rule" in text
    assert "http.send" in text


def _jsonl(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "inputs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_replay_shows_changed_decisions(tmp_path: Path) -> None:
    proposed = tmp_path / "proposed"
    shutil.copytree(POLICIES, proposed)
    # Proposal: payments may no longer use gpt-4o.
    text = (proposed / "data" / "providers.yaml").read_text()
    (proposed / "data" / "providers.yaml").write_text(
        text.replace("    gpt-4.5*: [platform]\n", "    gpt-4.5*: [platform]\n    gpt-4o: [platform]\n"))
    now = datetime.now(UTC)
    allowed = {"allow": True, "reasons": [], "route": "", "max_tokens": None, "audit_level": "full",
               "region": "us", "revision": "old"}
    routed = {"allow": True, "reasons": [{"rule": "residency.routed", "message": "m"}], "route": "openai-eu",
              "max_tokens": None, "audit_level": "full", "region": "eu", "revision": "old"}
    rows = [
        {"id": "ex1", "time": now.isoformat(), "input": make_input(ALICE, OPENAI), "decision": allowed},
        {"id": "ex2", "time": now.isoformat(), "input": json.dumps(make_input(CAROL, OPENAI)), "decision": routed},
        {"id": "ex3", "time": (now - timedelta(days=30)).isoformat(), "input": make_input(ALICE, OPENAI),
         "decision": allowed},
        {"id": "ex4", "time": now.isoformat(), "input": make_input(ALICE, {**OPENAI, "model": "gpt-4o-mini"}),
         "decision": allowed},
    ]
    path = _jsonl(tmp_path, rows)
    evaluated, changes = replay(proposed, records_from_jsonl(path), since=timedelta(days=7), now=now)
    assert evaluated == 3  # ex3 is older than 7 days
    assert [c.id for c in changes] == ["ex1", "ex2"]  # ex4 (gpt-4o-mini) is unaffected
    c = changes[0]
    assert c.before["allow"] is True and c.after["allow"] is False
    assert "roles.model_restricted" in c.after["rules"]
    out = io.StringIO()
    print_changes(evaluated, changes, out)
    assert "ex1" in out.getvalue() and "allow -> deny" in out.getvalue() and "+roles.model_restricted" in out.getvalue()
    assert "2 of 3 decisions would change" in out.getvalue()


def test_replay_unchanged_policy_changes_nothing(tmp_path: Path) -> None:
    from proxy.policy import EmbeddedEngine, PolicyConfig

    engine = EmbeddedEngine(PolicyConfig(dir=str(POLICIES)))
    rows = [{"id": f"x{i}", "time": None, "input": inp, "decision": engine.evaluate(inp)}
            for i, inp in enumerate([make_input(ALICE, OPENAI), make_input(CAROL, OPENAI)])]
    evaluated, changes = replay(POLICIES, records_from_jsonl(_jsonl(tmp_path, rows)))
    assert (evaluated, changes) == (2, [])


def _cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="customs")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_wiring_runs_check_and_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _cli().parse_args(["policy", "check", "--dir", str(POLICIES)])
    assert args.func(args) == 0
    assert "0 errors" in capsys.readouterr().out
    rows = [{"id": "r1", "time": None, "input": make_input(ALICE, {**OPENAI, "model": "gpt-4.5"}),
             "decision": {"allow": True, "reasons": []}}]
    args = _cli().parse_args(["policy", "replay", "--policy", str(POLICIES), "--since", "7d",
                              "--inputs", str(_jsonl(tmp_path, rows)), "--fail-on-change"])
    assert args.func(args) == 1
    assert "r1" in capsys.readouterr().out
    args = _cli().parse_args(["policy", "replay", "--policy", str(POLICIES)])
    assert args.func(args) == 2


def test_parse_since() -> None:
    assert parse_since("7d") == timedelta(days=7)
    assert parse_since("12h") == timedelta(hours=12)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_since("soon")
