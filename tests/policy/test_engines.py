"""Engine behaviour: reload without restart, fail closed, unknown built-ins, config."""
from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from proxy.decision import Decision
from proxy.opa_rest import OpaRestServer
from proxy.policy import (
    EmbeddedEngine,
    OpaServerEngine,
    PolicyConfig,
    PolicyLoadError,
    PolicyUnavailable,
    decision_from_result,
    load_engine,
    read_bundle,
)

from .conftest import POLICIES
from .test_decision_table import ALICE, ANTHROPIC, CAROL, OPENAI, make_input


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "policies"
    shutil.copytree(POLICIES, dest)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _wait_for(cond, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_embedded_engine_reloads_changed_data_without_restart(bundle_copy: Path) -> None:
    engine = EmbeddedEngine(PolicyConfig(dir=str(bundle_copy), reload_interval_s=0.0))
    before = engine.revision
    assert engine.decide(make_input(CAROL, ANTHROPIC)).allow is False
    # Give Anthropic an EU endpoint: the same request is now routed instead of denied.
    _edit(bundle_copy / "data" / "providers.yaml", "  openai: {eu: openai-eu}\n",
          "  openai: {eu: openai-eu}\n  anthropic: {eu: openai-eu}\n")
    decision = engine.decide(make_input(CAROL, ANTHROPIC))
    assert engine.revision != before
    assert decision.revision == engine.revision
    assert decision.allow is True and decision.route is not None and decision.route.endpoint == "openai-eu"


def test_embedded_engine_reloads_changed_rego(bundle_copy: Path) -> None:
    engine = EmbeddedEngine(PolicyConfig(dir=str(bundle_copy), reload_interval_s=0.0))
    assert engine.decide(make_input(ALICE, OPENAI)).audit_level == "full"
    _edit(bundle_copy / "audit_level.rego", 'default level := "full"', 'default level := "metadata"')
    assert engine.decide(make_input(ALICE, OPENAI)).audit_level == "metadata"


def test_reload_waits_for_the_interval(bundle_copy: Path) -> None:
    engine = EmbeddedEngine(PolicyConfig(dir=str(bundle_copy), reload_interval_s=3600))
    _edit(bundle_copy / "audit_level.rego", 'default level := "full"', 'default level := "metadata"')
    assert engine.decide(make_input(ALICE, OPENAI)).audit_level == "full"
    assert engine.reload(force=True) is True
    assert engine.decide(make_input(ALICE, OPENAI)).audit_level == "metadata"


def test_broken_edit_keeps_last_good_revision(bundle_copy: Path) -> None:
    engine = EmbeddedEngine(PolicyConfig(dir=str(bundle_copy), reload_interval_s=0.0))
    good = engine.revision
    _edit(bundle_copy / "budget_guard.rego", "remaining_tokens <= 0", "remaining_tokens <= ")
    decision = engine.decide(make_input(ALICE, OPENAI))
    assert decision.allow is True and decision.revision == good
    assert "compile" in engine.last_error


def test_revision_is_a_content_hash(bundle_copy: Path) -> None:
    a = read_bundle(bundle_copy).revision
    os.utime(bundle_copy / "decision.rego")  # touching alone changes nothing
    assert read_bundle(bundle_copy).revision == a
    _edit(bundle_copy / "data" / "audit.yaml", "[legal, hr]", "[legal]")
    assert read_bundle(bundle_copy).revision != a


def test_unknown_builtin_raises_at_load(bundle_copy: Path) -> None:
    (bundle_copy / "lookup.rego").write_text(
        "package customs.lookup\n\nimport rego.v1\n\n"
        'owner := http.send({"method": "get", "url": "http://127.0.0.1:9/owner"}).body\n'
    )
    _edit(bundle_copy / "audit_level.rego", 'level := "metadata" if metadata_only',
          'metadata_only if data.customs.lookup.owner == "x"\n\nlevel := "metadata" if metadata_only')
    with pytest.raises(PolicyLoadError, match="http.send"):
        EmbeddedEngine(PolicyConfig(dir=str(bundle_copy)))


def test_unknown_function_raises_at_load(bundle_copy: Path) -> None:
    _edit(bundle_copy / "audit_level.rego", 'level := "metadata" if metadata_only',
          'metadata_only if no.such.function(input.principal.team)\n\nlevel := "metadata" if metadata_only')
    with pytest.raises(PolicyLoadError, match="no.such.function"):
        EmbeddedEngine(PolicyConfig(dir=str(bundle_copy)))


def test_unknown_builtin_in_reload_is_refused(bundle_copy: Path) -> None:
    engine = EmbeddedEngine(PolicyConfig(dir=str(bundle_copy), reload_interval_s=0.0))
    good = engine.revision
    _edit(bundle_copy / "audit_level.rego", 'level := "metadata" if metadata_only',
          'metadata_only if net.cidr_contains("10.0.0.0/8", input.principal.team)\n\nlevel := "metadata" if metadata_only')
    assert engine.decide(make_input(ALICE, OPENAI)).revision == good
    assert "net.cidr_contains" in engine.last_error


def test_syntax_error_raises_at_load(bundle_copy: Path) -> None:
    _edit(bundle_copy / "budget_guard.rego", "remaining_tokens <= 0", "remaining_tokens <= ")
    with pytest.raises(PolicyLoadError):
        EmbeddedEngine(PolicyConfig(dir=str(bundle_copy)))


def test_missing_directory_raises_at_load(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError):
        load_engine(PolicyConfig(dir=str(tmp_path / "nope")))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_opa_engine_fails_closed_when_endpoint_is_down() -> None:
    engine = OpaServerEngine(PolicyConfig(engine="opa", dir=str(POLICIES),
                                          opa_url=f"http://127.0.0.1:{_free_port()}", opa_timeout_s=0.5))
    with pytest.raises(PolicyUnavailable, match="OPA"):
        engine.decide(make_input(ALICE, OPENAI))
    engine.close()


def test_opa_engine_fails_closed_when_server_stops_then_recovers() -> None:
    server = OpaRestServer()
    server.start()
    port = server.server_address[1]
    engine = OpaServerEngine(PolicyConfig(engine="opa", dir=str(POLICIES), opa_url=server.url, opa_timeout_s=0.5))
    assert engine.decide(make_input(ALICE, OPENAI)).allow is True
    server.stop()
    with pytest.raises(PolicyUnavailable):
        engine.decide(make_input(ALICE, OPENAI))
    # A fresh OPA on the same port knows nothing: the engine pushes again and decides.
    fresh = OpaRestServer("127.0.0.1", port)
    fresh.start()
    try:
        assert engine.decide(make_input(ALICE, OPENAI)).allow is True
    finally:
        engine.close()
        fresh.stop()


def test_opa_engine_pushes_changes(bundle_copy: Path, opa_rest_server: OpaRestServer) -> None:
    server = OpaRestServer()
    server.start()
    try:
        engine = OpaServerEngine(PolicyConfig(engine="opa", dir=str(bundle_copy), opa_url=server.url,
                                              reload_interval_s=0.0))
        before = engine.revision
        assert engine.decide(make_input(CAROL, ANTHROPIC)).allow is False
        _edit(bundle_copy / "data" / "providers.yaml", "  openai: {eu: openai-eu}\n",
              "  openai: {eu: openai-eu}\n  anthropic: {eu: openai-eu}\n")
        decision = engine.decide(make_input(CAROL, ANTHROPIC))
        assert decision.allow is True and engine.revision != before and decision.revision == engine.revision
        engine.close()
    finally:
        server.stop()


def test_opa_rest_rejects_unknown_builtin(bundle_copy: Path) -> None:
    (bundle_copy / "lookup.rego").write_text(
        "package customs.lookup\n\nimport rego.v1\n\n"
        'owner := http.send({"method": "get", "url": "http://127.0.0.1:9/owner"}).body\n'
    )
    with OpaRestServer() as server:
        with pytest.raises(PolicyLoadError, match="http.send"):
            OpaServerEngine(PolicyConfig(engine="opa", dir=str(bundle_copy), opa_url=server.url))


def test_malformed_decisions_fail_closed() -> None:
    for bad in (None, {}, {"allow": "yes"}, {"allow": True, "actions": {"X": "shred"}},
                {"allow": True, "route": {"endpoint": "x"}}, {"allow": True, "max_tokens": -1},
                {"allow": True, "audit_level": "some"}):
        with pytest.raises(PolicyUnavailable):
            decision_from_result(bad, "r")


def test_denial_without_reasons_gets_one() -> None:
    d = decision_from_result({"allow": False}, "r")
    assert isinstance(d, Decision) and d.reasons and d.reasons[0].rule == "policy.deny"


def test_config_from_dict_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPA_URL", raising=False)
    assert PolicyConfig.from_dict(None) == PolicyConfig()
    c = PolicyConfig.from_dict({"engine": "opa", "opa_url": "http://127.0.0.1:8181", "reload_interval_s": "5"})
    assert (c.engine, c.opa_url, c.reload_interval_s, c.fail_closed) == ("opa", "http://127.0.0.1:8181", 5.0, True)
    monkeypatch.setenv("OPA_URL", "http://127.0.0.1:9999")
    assert PolicyConfig.from_dict({"engine": "opa"}).opa_url == "http://127.0.0.1:9999"
    with pytest.raises(ValueError):
        PolicyConfig.from_dict({"engine": "wasm"})
    with pytest.raises(ValueError):
        PolicyConfig.from_dict({"colour": "blue"})
