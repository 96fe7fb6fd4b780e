"""deploy/docker-compose.yml, read statically (no Docker engine here): pinned images, health,
volumes, start order, and configs that the proxy's own config loaders accept."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from audit.config import AuditConfig
from proxy.budgets.config import BudgetConfig
from proxy.config import load_config
from proxy.policy import PolicyConfig

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ONE_SHOT = {"opa-bundle"}  # jobs that run to completion; everything else is long-running
# A tag that names a version (digits) or a digest; never latest, never a bare major like "7".
PINNED = re.compile(r"^[\w./-]+:(?!latest\b)[\w.-]*\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$|^[\w./-]+@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_runs_proxy_opa_clickhouse_redis_and_grafana(compose: dict[str, Any]) -> None:
    assert {"proxy", "opa", "clickhouse", "redis", "grafana"} <= set(compose["services"])


@pytest.mark.parametrize("name", ["proxy", "opa-bundle", "opa", "redis", "clickhouse", "grafana"])
def test_every_image_is_pinned_to_a_version(compose: dict[str, Any], name: str) -> None:
    image = compose["services"][name]["image"]
    assert PINNED.match(image), f"{name}: image {image!r} is not pinned to a version or digest"


def test_official_images_are_used_for_the_engines(compose: dict[str, Any]) -> None:
    images = {n: s["image"].split(":")[0] for n, s in compose["services"].items()}
    assert images["opa"] == "openpolicyagent/opa"
    assert images["clickhouse"] == "clickhouse/clickhouse-server"
    assert images["redis"] == "redis"
    assert images["grafana"] == "grafana/grafana"


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        if name in ONE_SHOT:
            assert svc.get("restart") == "no", f"{name} is a one-shot job and must not restart"
            continue
        hc = svc.get("healthcheck") or {}
        assert hc.get("test") and hc["test"][0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        assert hc.get("interval") and hc.get("retries"), f"{name}: healthcheck without interval/retries"


def test_proxy_waits_for_opa_redis_and_clickhouse_to_be_healthy(compose: dict[str, Any]) -> None:
    deps = compose["services"]["proxy"]["depends_on"]
    for dep in ("opa", "redis", "clickhouse"):
        assert deps[dep]["condition"] == "service_healthy", dep
    assert compose["services"]["opa"]["depends_on"]["opa-bundle"]["condition"] == "service_completed_successfully"
    assert compose["services"]["grafana"]["depends_on"]["clickhouse"]["condition"] == "service_healthy"


def test_state_lives_on_declared_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used: set[str] = set()
    for svc in compose["services"].values():
        for v in svc.get("volumes", []):
            source = v.split(":")[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared, f"used {sorted(used)} vs declared {sorted(declared)}"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["proxy"]["volumes"]}
    assert mounts["/var/lib/customs"] == "customs-data"
    assert "clickhouse-data:/var/lib/clickhouse" in compose["services"]["clickhouse"]["volumes"]
    assert "redis-data:/data" in compose["services"]["redis"]["volumes"]


def test_bind_mounted_files_exist_in_the_repository(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        for v in svc.get("volumes", []):
            source = v.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"


def test_clickhouse_init_scripts_are_the_generated_schema(compose: dict[str, Any]) -> None:
    ch = compose["services"]["clickhouse"]
    assert "./clickhouse/init:/docker-entrypoint-initdb.d:ro" in ch["volumes"]
    assert sorted(p.name for p in (DEPLOY / "clickhouse/init").glob("*.sql")) == ["01_customs_schema.sql"]
    assert ch["environment"]["CLICKHOUSE_DB"] == "customs"


def test_no_secret_values_are_committed_in_compose(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        for key, value in env.items():
            if re.search(r"KEY|PASSWORD|URL", key):
                assert "${" in str(value), f"{name}.{key} must come from the environment, not the file"


def test_compose_config_is_accepted_by_the_proxy_loaders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_URL", "http://customs:pw@clickhouse:8123/customs")
    cfg = load_config(DEPLOY / "compose/customs.yaml")
    policy = PolicyConfig.from_dict(cfg.policy)
    assert policy.engine == "opa" and policy.opa_url == "http://opa:8181" and policy.opa_push is False
    budgets = BudgetConfig.from_dict(cfg.budgets)
    assert budgets.backend == "redis" and budgets.redis_url.startswith("redis://redis:6379")
    audit = AuditConfig.from_dict(cfg.audit)
    assert audit.backend == "clickhouse" and audit.clickhouse_url.endswith("@clickhouse:8123/customs")
    assert cfg.data_dir == Path("/var/lib/customs")
    assert cfg.listen.admin == ("0.0.0.0", 8082)


def test_proxy_ports_are_published_and_admin_only_on_loopback(compose: dict[str, Any]) -> None:
    ports = compose["services"]["proxy"]["ports"]
    assert "8080:8080" in ports and "8081:8081" in ports and "127.0.0.1:8082:8082" in ports
