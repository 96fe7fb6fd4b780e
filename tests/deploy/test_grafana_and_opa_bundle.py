"""Grafana dashboards are the named queries; the OPA bundle is the policy directory."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from audit.named_queries import load_queries
from deploy.grafana.make_dashboards import DASHBOARDS, DATASOURCE, OUT_DIR, grafana_sql, render
from deploy.opa.make_bundle import bundle_files, write_dir, write_tar
from proxy.policy import read_bundle

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_committed_dashboard_equals_the_generated_one(uid: str) -> None:
    assert (OUT_DIR / f"{uid}.json").read_text() == render(uid), \
        "stale dashboard: run python -m deploy.grafana.make_dashboards"


def test_there_is_an_roi_and_a_compliance_dashboard_covering_every_named_query() -> None:
    panels = {uid: json.loads((OUT_DIR / f"{uid}.json").read_text())["panels"] for uid in DASHBOARDS}
    assert set(panels) == {"customs-roi", "customs-compliance"}
    used = {re.search(r"named query `(\w+)`", p["description"]).group(1) for ps in panels.values() for p in ps}
    assert used == set(load_queries())


def test_panels_use_the_provisioned_clickhouse_datasource_and_no_raw_parameters() -> None:
    ds = yaml.safe_load((REPO / "deploy/grafana/provisioning/datasources/clickhouse.yaml").read_text())["datasources"][0]
    assert ds["type"] == DATASOURCE["type"] == "grafana-clickhouse-datasource" and ds["uid"] == DATASOURCE["uid"]
    assert ds["jsonData"]["defaultDatabase"] == "customs" and ds["secureJsonData"]["password"].startswith("$")
    for uid in DASHBOARDS:
        for p in json.loads((OUT_DIR / f"{uid}.json").read_text())["panels"]:
            sql = p["targets"][0]["rawSql"]
            assert p["targets"][0]["datasource"] == DATASOURCE
            assert not re.search(r"(?<!\$)\{[a-z_]+:[A-Z]", sql), f"{p['title']}: unbound ClickHouse parameter"


def test_grafana_sql_maps_time_range_and_variables() -> None:
    sql = grafana_sql("WHERE t >= {since:DateTime64(3, 'UTC')} AND t < {until:DateTime64(3, 'UTC')} "
                      "AND ({team:String} = '' OR team = {team:String})")
    assert sql == ("WHERE t >= toDateTime64($__fromTime, 3, 'UTC') AND t < toDateTime64($__toTime, 3, 'UTC') "
                   "AND (${team:sqlstring} = '' OR team = ${team:sqlstring})")
    with pytest.raises(ValueError, match="region"):
        grafana_sql("{region:String}")


def test_dashboard_provider_path_is_where_compose_mounts_the_dashboards() -> None:
    prov = yaml.safe_load((REPO / "deploy/grafana/provisioning/dashboards/customs.yaml").read_text())
    compose = yaml.safe_load((REPO / "deploy/docker-compose.yml").read_text())
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["grafana"]["volumes"]}
    assert mounts[prov["providers"][0]["options"]["path"]] == "./grafana/dashboards"
    assert "grafana-clickhouse-datasource" in compose["services"]["grafana"]["environment"]["GF_INSTALL_PLUGINS"]


def _bundle_data(files: dict[str, bytes]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for rel, content in files.items():
        if rel.endswith("/data.json"):
            node = data
            *parents, _ = rel.split("/")
            for part in parents[:-1]:
                node = node.setdefault(part, {})
            node[parents[-1]] = json.loads(content)
    return data


def test_opa_bundle_holds_the_same_modules_and_data_as_the_embedded_engine() -> None:
    files = bundle_files(REPO / "policies")
    bundle = read_bundle(REPO / "policies")
    rego = {p: c.decode() for p, c in files.items() if p.endswith(".rego")}
    assert rego == bundle.policy_modules and not any(p.endswith("_test.rego") for p in rego)
    # OPA mounts a bundle's data.json at its directory path: that must be data.customs.<stem>.
    assert _bundle_data(files) == bundle.data_document()
    manifest = json.loads(files[".manifest"])
    assert manifest["revision"] == bundle.revision and manifest["roots"] == ["customs"]
    packages = {re.search(r"(?m)^package ([\w.]+)", s).group(1) for s in rego.values()}
    assert all(p == "customs" or p.startswith("customs.") for p in packages)


def test_opa_bundle_script_writes_a_directory_and_a_tarball(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(REPO / "deploy/opa/make_bundle.py"), str(REPO / "policies"),
                          str(tmp_path / "b"), "--tar", str(tmp_path / "b.tar.gz")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "b/customs/users/data.json").is_file() and (tmp_path / "b/.manifest").is_file()
    import tarfile

    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        assert "/.manifest" in tar.getnames()
    # Re-writing into a non-empty directory replaces it (stale modules must not linger).
    (tmp_path / "b/stale.rego").write_text("package customs.stale")
    write_dir(bundle_files(REPO / "policies"), tmp_path / "b")
    assert not (tmp_path / "b/stale.rego").exists()
    write_tar({".manifest": b"{}"}, tmp_path / "c.tar.gz")


def test_grafana_panels_execute_on_the_cluster_schema(chdb_run: dict[str, Any]) -> None:
    panels = chdb_run["grafana_panels"]
    assert len(panels) == sum(len(p) for _, p in DASHBOARDS.values())
    assert panels["customs-compliance/Secrets and PII caught, by type and team"] == 1
