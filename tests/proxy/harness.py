"""Real processes for the proxy tests: the fake model upstream and `customs run` itself."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

UPSTREAM_KEYS = {
    "OPENAI_API_KEY": "sk-upstream-openai-test",
    "ANTHROPIC_API_KEY": "sk-ant-upstream-test",
    "GEMINI_API_KEY": "upstream-gemini-test",
    "AZURE_OPENAI_API_KEY": "upstream-azure-test",
}
ALICE = "ck-alice-dev-0001"  # a developer (policies/data/users.yaml)
BOB = "ck-bob-dev-0002"  # developer + admin
ERIN = "ck-erin-aud-0005"  # auditor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{what} did not listen on {port} within {timeout}s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop a process we started: SIGTERM, then SIGKILL if it does not exit."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass
class FakeUpstream:
    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def raw_log(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def last(self) -> dict[str, Any]:
        return self.requests()[-1]


def start_fake_upstream(tmp: Path, prefix: str = "") -> FakeUpstream:
    port = free_port()
    log = tmp / f"upstream-{port}.jsonl"
    cmd = [sys.executable, "-m", "bench.fake_upstream", "--port", str(port), "--log", str(log)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_port(port, proc, 20, "fake upstream")
    return FakeUpstream(port, log, proc)


@dataclass
class Customs:
    proxy_port: int
    gateway_port: int
    admin_port: int
    data_dir: Path
    config_path: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def proxy_url(self, key: str = ALICE, user: str = "alice") -> str:
        return f"http://{user}:{key}@127.0.0.1:{self.proxy_port}"

    @property
    def ca_cert(self) -> Path:
        return self.data_dir / "ca" / "mitmproxy-ca-cert.pem"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def write_config(tmp: Path, upstream: FakeUpstream, extra: dict[str, Any] | None = None,
                 eu_upstream: FakeUpstream | None = None) -> tuple[Path, dict[str, Any]]:
    ports = {"proxy": free_port(), "gateway": free_port(), "admin": free_port()}
    providers: dict[str, Any] = {
        name: {"upstream": upstream.url} for name in ("openai", "anthropic", "gemini", "azure", "copilot")
    }
    providers["local"] = {"upstream": upstream.url}
    if eu_upstream is not None:
        providers["openai-eu"] = {"upstream": eu_upstream.url}
    cfg: dict[str, Any] = {
        "data_dir": str(tmp / "data"),
        "listen": {k: f"127.0.0.1:{v}" for k, v in ports.items()},
        "providers": providers,
        "identity": {"users_file": str(REPO / "policies/data/users.yaml")},
        "policy": {"dir": str(REPO / "policies")},
        "budgets": {"limits_file": str(REPO / "policies/data/budgets.yaml"),
                    "prices_file": str(REPO / "policies/data/providers.yaml")},
        "limits": {"max_body_bytes": 1024 * 1024},
    }
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k].update(v)
        else:
            cfg[k] = v
    path = tmp / "customs.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, cfg


def start_customs(tmp: Path, upstream: FakeUpstream, extra: dict[str, Any] | None = None,
                  eu_upstream: FakeUpstream | None = None, timeout: float = 90) -> Customs:
    """Start `customs run --config FILE` as users do, and wait until the admin app answers."""
    path, cfg = write_config(tmp, upstream, extra, eu_upstream)
    env = {**os.environ, **UPSTREAM_KEYS, "CUSTOMS_LOG_LEVEL": "INFO"}
    log_path = tmp / "customs.log"
    log_fh = open(log_path, "wb")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen([str(BIN / "customs"), "run", "--config", str(path)], cwd=REPO, env=env,
                            stdout=log_fh, stderr=subprocess.STDOUT)
    ports = {k: int(v.rsplit(":", 1)[1]) for k, v in cfg["listen"].items()}
    c = Customs(ports["proxy"], ports["gateway"], ports["admin"], Path(cfg["data_dir"]), path, proc, log_path, env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"customs exited with {proc.returncode}:\n{c.logs()[-4000:]}")
        try:
            if httpx.get(f"{c.admin}/healthz", timeout=0.5).status_code == 200:
                wait_port(c.gateway_port, proc, 10, "gateway")
                wait_port(c.proxy_port, proc, 10, "proxy")
                return c
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise TimeoutError(f"customs did not become healthy in {timeout}s:\n{c.logs()[-4000:]}")


def start_redis_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A throwaway redis-server on a free loopback port (no persistence); (process, URL)."""
    import shutil

    import redis

    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(exe):
        raise RuntimeError("redis-server is not installed: run `make system-deps` or `apt-get install redis-server`")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir), "--daemonize", "no", "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                return proc, url
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    stop(proc)
                    raise RuntimeError(f"redis-server did not start on 127.0.0.1:{port}") from None
                time.sleep(0.02)
    finally:
        client.close()
