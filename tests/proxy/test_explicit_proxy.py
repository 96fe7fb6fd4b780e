"""The explicit HTTPS proxy with TLS interception: curl and httpx as Copilot-shaped clients."""
from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.proxy.harness import Customs, FakeUpstream, free_port

AWS_KEY = "AKIAZ7Q3LMNB4XWERT5Y"
COPILOT_TOKEN = "tid=1a2b3c;exp=1795000000;sku=copilot_for_business_seat:MAC"


def curl(customs: Customs, url: str, *args: str, proxy: str | None = None, cacert: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = ["curl", "-sS", "--noproxy", "", "-x", proxy or customs.proxy_url(), "--cacert", str(cacert or customs.ca_cert),
           "-w", "\n%{http_code}", url, *args]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)


def split_status(out: str) -> tuple[str, int]:
    body, _, code = out.rpartition("\n")
    return body, int(code)


def test_copilot_inline_completion_is_intercepted_masked_and_restored(customs: Customs, upstream: FakeUpstream) -> None:
    body = {"prompt": f"# path: src/app.py\nimport os\nKEY = '{AWS_KEY}'\ndef load():\n    return ", "suffix": "\n",
            "max_tokens": 50, "temperature": 0, "n": 1, "stream": True, "nwo": "acme/payments",
            "extra": {"language": "python", "context": [f"# other file\nbackup = '{AWS_KEY}'"]}}
    r = curl(customs, "https://proxy.business.githubcopilot.com/v1/engines/gpt-41-copilot/completions",
             "-H", f"authorization: Bearer {COPILOT_TOKEN}", "-H", "content-type: application/json",
             "-H", "openai-intent: copilot-ghost", "-d", json.dumps(body))
    assert r.returncode == 0, r.stderr
    out, status = split_status(r.stdout)
    assert status == 200
    text = "".join(json.loads(line[6:])["choices"][0]["text"] for line in out.splitlines()
                   if line.startswith("data: {"))
    assert text == "echo: " + body["prompt"]  # the fake echoes the prompt; the key comes back restored
    seen = upstream.last()
    assert seen["path"] == "/v1/engines/gpt-41-copilot/completions"
    assert AWS_KEY not in seen["body"]
    assert seen["headers"]["authorization"] == f"Bearer {COPILOT_TOKEN}"  # Copilot's own token passes through


def test_copilot_chat_through_httpx_with_the_ca(customs: Customs, upstream: FakeUpstream) -> None:
    with httpx.Client(proxy=customs.proxy_url(), verify=str(customs.ca_cert), trust_env=False, timeout=30) as client:
        r = client.post("https://api.githubcopilot.com/chat/completions",
                        headers={"authorization": f"Bearer {COPILOT_TOKEN}", "copilot-integration-id": "vscode-chat"},
                        json={"model": "gpt-4.1", "messages": [{"role": "user", "content": f"why {AWS_KEY}?"}]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == f"echo: why {AWS_KEY}?"
    assert AWS_KEY not in upstream.last()["body"]


def test_missing_proxy_credentials_get_407(customs: Customs) -> None:
    r = curl(customs, "https://api.githubcopilot.com/chat/completions", "-d", "{}",
             proxy=f"http://127.0.0.1:{customs.proxy_port}")
    assert "407" in r.stdout + r.stderr


def test_wrong_proxy_password_gets_407(customs: Customs) -> None:
    r = curl(customs, "https://api.githubcopilot.com/chat/completions", "-d", "{}",
             proxy=customs.proxy_url(key="ck-wrong"))
    assert "407" in r.stdout + r.stderr


def test_websocket_upgrade_to_copilot_is_refused_so_the_client_falls_back(customs: Customs, upstream: FakeUpstream) -> None:
    before = len(upstream.requests())
    r = curl(customs, "https://api.githubcopilot.com/responses", "-H", "connection: upgrade", "-H", "upgrade: websocket",
             "-H", "sec-websocket-version: 13", "-H", "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==", "--http1.1")
    out, status = split_status(r.stdout)
    assert status == 503 and "websocket" in out.lower()
    assert len(upstream.requests()) == before


# -- a TLS host outside the AI list is tunnelled, not intercepted --------------------------

@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """An HTTPS origin on loopback with its own self-signed certificate."""
    tmp = tmp_path_factory.mktemp("origin")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "origin.pem", tmp / "origin.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("content-length", "6")
            self.end_headers()
            self.wfile.write(b"origin")

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Hello)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port, cert_path
    server.shutdown()
    server.server_close()


def test_non_ai_tls_host_is_tunnelled_with_the_origins_certificate(customs: Customs, origin: tuple[int, Path]) -> None:
    port, origin_cert = origin
    # Trusting only the origin's own certificate succeeds only if Customs did not intercept.
    r = curl(customs, f"https://localhost:{port}/", cacert=origin_cert)
    assert r.returncode == 0, r.stderr
    assert split_status(r.stdout) == ("origin", 200)
    # And the Customs CA alone cannot verify it: the client saw the origin's certificate.
    r = curl(customs, f"https://localhost:{port}/", cacert=customs.ca_cert)
    assert r.returncode != 0


def test_ca_private_key_is_owner_only(customs: Customs) -> None:
    key = customs.data_dir / "ca" / "mitmproxy-ca.pem"
    assert key.exists()
    assert key.stat().st_mode & 0o777 == 0o600


def test_copilot_acceptance_telemetry_passes_through_and_feeds_the_acceptance_rate(customs: Customs, upstream: FakeUpstream) -> None:
    import gzip
    import time

    from tests.proxy.harness import ERIN

    def envelope(name: str, rid: str) -> dict:
        return {"name": "Microsoft.ApplicationInsights.Event", "time": "2026-11-26T09:00:00.000Z",
                "data": {"baseType": "EventData", "baseData": {"ver": 2, "name": f"GitHub.copilot-chat/{name}",
                         "properties": {"headerRequestId": rid, "languageId": "python"}}}}
    events = [envelope("ghostText.accepted", "req-a1"), envelope("ghostText.rejected", "req-r1"),
              envelope("ghostText.shown", "req-s1")]
    body = gzip.compress("\n".join(json.dumps(e) for e in events).encode())
    path = Path(customs.data_dir) / "telemetry.gz"
    path.write_bytes(body)
    r = curl(customs, "https://copilot-telemetry.githubusercontent.com/telemetry", "-H", "content-encoding: gzip",
             "-H", "content-type: application/x-json-stream", "--data-binary", f"@{path}")
    assert split_status(r.stdout)[1] == 200
    assert upstream.last()["path"] == "/telemetry"
    rows: list = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not rows:
        q = httpx.get(f"{customs.admin}/audit/query/copilot_acceptance_rate", params={"since": "30d"},
                      headers={"authorization": f"Bearer {ERIN}"})
        assert q.status_code == 200, q.text
        rows = [row for row in q.json()["rows"] if int(row["shown"]) >= 2]
        time.sleep(0.2)
    assert rows and int(rows[0]["accepted"]) >= 1
