"""The proxy's Dockerfile, checked statically: pinned base, non-root, volume, ports, health."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from proxy.config import load_config

REPO = Path(__file__).resolve().parents[2]
TEXT = (REPO / "Dockerfile").read_text()
LINES = [ln.strip() for ln in re.sub(r"\\\n", " ", TEXT).splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _instr(name: str) -> list[str]:
    return [ln[len(name):].strip() for ln in LINES if ln.upper().startswith(name + " ")]


def test_base_image_is_python_312_slim_pinned_by_version() -> None:
    args = dict(a.split("=", 1) for a in _instr("ARG") if "=" in a)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.12\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base
    assert all(f.split()[0] == "${PYTHON_IMAGE}" for f in _instr("FROM"))


def test_runs_as_a_non_root_user() -> None:
    users = _instr("USER")
    assert users, "no USER instruction"
    final = users[-1].split(":")[0]
    assert final not in ("root", "0") and (final.isdigit() and int(final) >= 1000)
    assert LINES.index(next(ln for ln in LINES if ln.startswith("USER"))) > max(
        i for i, ln in enumerate(LINES) if ln.startswith(("RUN", "COPY")))


def test_installs_the_distribution_with_pip() -> None:
    assert any('pip install ".[redis]"' in r or "pip install ." in r for r in _instr("RUN"))


def test_data_dir_is_a_volume_and_ports_are_exposed() -> None:
    assert _instr("VOLUME") == ['["/var/lib/customs"]']
    assert _instr("EXPOSE") == ["8080 8081 8082"]
    assert "CUSTOMS_DATA_DIR=/var/lib/customs" in " ".join(_instr("ENV"))


def test_healthcheck_asks_healthz() -> None:
    hc = _instr("HEALTHCHECK")
    assert len(hc) == 1 and "/healthz" in hc[0] and "CMD" in hc[0]


def test_entrypoint_is_customs_run_with_the_etc_config() -> None:
    assert _instr("ENTRYPOINT") == ['["customs", "run", "--config", "/etc/customs/customs.yaml"]']


def test_copied_paths_exist_and_are_not_docker_ignored() -> None:
    ignored = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()
               if ln.strip() and not ln.startswith("#")]
    for line in _instr("COPY"):
        if line.startswith("--from"):
            continue
        for src in line.split()[:-1]:
            assert (REPO / src).exists(), src
            assert not any(src == i or src.startswith(i.rstrip("/") + "/") for i in ignored), f"{src} is ignored"


def test_image_default_config_loads_and_keeps_admin_on_loopback() -> None:
    cfg = load_config(REPO / "deploy/docker/customs.yaml")
    assert cfg.data_dir == Path("/var/lib/customs")
    assert cfg.listen.admin[0] == "127.0.0.1" and cfg.listen.gateway[0] == "0.0.0.0"
    assert yaml.safe_load((REPO / "deploy/docker/customs.yaml").read_text())["policy"]["dir"] == "/etc/customs/policies"
