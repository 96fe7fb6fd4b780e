"""Kubernetes manifests: `kubectl kustomize` renders the example overlay and every object
validates (strict) against the Kubernetes schemas shipped offline in kubernetes-validate."""
from __future__ import annotations

import copy
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.k8s.make_policy_configmap import CONFIGMAP, VOLUME_PATCH, key_for, policy_files, render_configmap, \
    render_volume_patch
from proxy.budgets.config import BudgetConfig
from proxy.config import load_config
from proxy.policy import PolicyConfig

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy/k8s"
# Oldest supported cluster (the pre-stop `sleep` action is on by default from 1.30) and newest schemas.
VERSIONS = ("1.30.0", "1.37.0")


def _kubectl() -> str:
    exe = shutil.which("kubectl") or ("/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None)
    if exe is None:
        pytest.fail("kubectl is not installed, so the kustomize manifests cannot be rendered: "
                    "apt-get install kubectl (make test installs it)", pytrace=False)
    return exe


def render(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run([_kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"kubectl kustomize {path} failed:\n{out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return render(K8S / "overlays/example")


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render(K8S / "base")


def by_kind(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[dict[str, Any]], kind: str, name: str = "customs") -> dict[str, Any]:
    found = by_kind(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation must use the bundled schemas: any outbound connection fails the test."""
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("kubernetes-validate tried to open a network connection")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_object_validates_against_kubernetes_schemas(overlay, base, version, no_network) -> None:
    for doc in overlay + base:
        kubernetes_validate.validate(doc, version, strict=True)  # raises ValidationError
    kinds = {d["kind"] for d in overlay}
    assert kinds == {"Namespace", "ServiceAccount", "ConfigMap", "Service", "Deployment",
                     "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"}


def test_the_validator_rejects_a_broken_object(overlay, no_network) -> None:
    bad = copy.deepcopy(one(overlay, "Deployment"))
    bad["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = {"name": "admin"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)
    typo = copy.deepcopy(one(overlay, "Deployment"))
    typo["spec"]["replica"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, VERSIONS[-1], strict=True)


def test_example_secrets_validate_and_hold_no_real_values(no_network) -> None:
    docs = [d for d in yaml.safe_load_all((K8S / "overlays/example/secrets.example.yaml").read_text()) if d]
    for d in docs:
        kubernetes_validate.validate(d, VERSIONS[-1], strict=True)
        assert all("REPLACE_ME" in v for v in d["stringData"].values())
    assert {d["metadata"]["name"] for d in docs} == {"customs-secrets", "customs-ca"}


def _containers(dep: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = dep["spec"]["template"]["spec"]
    return {c["name"]: c for c in spec["containers"] + spec.get("initContainers", [])}


def test_proxy_deployment_has_an_opa_sidecar_and_health_probes(overlay) -> None:
    dep = one(overlay, "Deployment")
    c = _containers(dep)
    assert set(c) == {"customs", "opa", "prepare"}
    assert c["customs"]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["customs"]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["opa"]["image"].startswith("openpolicyagent/opa:1.") and "--bundle" in c["opa"]["args"]
    assert "127.0.0.1:8181" in c["opa"]["args"], "the OPA API is for the proxy in the same pod only"
    assert c["customs"]["image"] == "registry.example.com/platform/codecustoms:0.1.0"
    assert dep["spec"]["replicas"] == 3


def test_every_container_is_non_root_locked_down_and_has_resources(overlay) -> None:
    dep = one(overlay, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] >= 1000
    assert pod["automountServiceAccountToken"] is False
    for name, c in _containers(dep).items():
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, name
        assert sc["capabilities"]["drop"] == ["ALL"], name
        assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"], name


def test_hpa_pdb_and_services_select_the_proxy_pods(overlay) -> None:
    dep = one(overlay, "Deployment")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    hpa = one(overlay, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "customs"}
    assert hpa["spec"]["minReplicas"] == 3 and hpa["spec"]["maxReplicas"] == 20
    pdb = one(overlay, "PodDisruptionBudget")
    for selector in (pdb["spec"]["selector"]["matchLabels"], one(overlay, "Service")["spec"]["selector"],
                     one(overlay, "Service", "customs-admin")["spec"]["selector"]):
        assert selector.items() <= labels.items()
    svc = one(overlay, "Service")
    assert svc["spec"]["sessionAffinity"] == "ClientIP", "the placeholder vault is per pod: sticky by client IP"
    assert svc["spec"]["type"] == "LoadBalancer" and svc["spec"]["externalTrafficPolicy"] == "Local"
    assert {p["port"] for p in svc["spec"]["ports"]} == {8080, 8081}, "admin is not on the public Service"


def test_policy_configmap_is_generated_from_policies_and_fully_mounted(overlay) -> None:
    assert CONFIGMAP.read_text() == render_configmap(), "stale: python -m deploy.k8s.make_policy_configmap"
    assert VOLUME_PATCH.read_text() == render_volume_patch()
    cm = one(overlay, "ConfigMap", "customs-policies")
    files = policy_files()
    assert set(cm["data"]) == {key_for(p) for p in files}
    assert cm["data"]["data--users.yaml"] == files["data/users.yaml"]
    vol = next(v for v in one(overlay, "Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == "policies")
    assert {i["key"]: i["path"] for i in vol["configMap"]["items"]} == {key_for(p): p for p in files}


def test_secrets_are_referenced_not_rendered(overlay) -> None:
    assert not by_kind(overlay, "Secret"), "no Secret objects (and no secret values) in the manifests"
    dep = one(overlay, "Deployment")
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for c in _containers(dep).values() for e in c.get("env", [])
            if "valueFrom" in e}
    vols = {v["secret"]["secretName"] for v in dep["spec"]["template"]["spec"]["volumes"] if "secret" in v}
    assert refs == {"customs-secrets"} and vols == {"customs-ca"}


def test_overlay_config_points_at_external_redis_and_clickhouse(overlay, monkeypatch, tmp_path) -> None:
    cm = next(d for d in by_kind(overlay, "ConfigMap") if d["metadata"]["name"].startswith("customs-config"))
    path = tmp_path / "customs.yaml"
    path.write_text(cm["data"]["customs.yaml"])
    monkeypatch.setenv("CLICKHOUSE_URL", "http://customs:pw@clickhouse.data.svc.cluster.local:8123/customs")
    cfg = load_config(path)
    assert BudgetConfig.from_dict(cfg.budgets).redis_url.startswith("redis://redis-ledger.data.svc")
    pol = PolicyConfig.from_dict(cfg.policy)
    assert pol.engine == "opa" and pol.opa_url == "http://127.0.0.1:8181" and pol.opa_push is False
    assert cfg.audit["backend"] == "clickhouse"
    assert cfg.listen.admin == ("0.0.0.0", 8082), "kubelet probes reach the admin port on the pod IP"
    dep = one(overlay, "Deployment")
    volume = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "config")
    assert volume["configMap"]["name"] == cm["metadata"]["name"], "the hashed ConfigMap name is wired in"


def test_admin_port_is_fenced_by_a_network_policy(overlay) -> None:
    netpol = one(overlay, "NetworkPolicy")
    labels = one(overlay, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert netpol["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    open_rule, admin_rule = netpol["spec"]["ingress"]
    assert "from" not in open_rule and {p["port"] for p in open_rule["ports"]} == {8080, 8081}
    assert [p["port"] for p in admin_rule["ports"]] == [8082] and admin_rule["from"]
