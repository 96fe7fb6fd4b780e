"""The interception CA: created on first run under the data dir, private key readable by owner only."""
from __future__ import annotations

import os
from pathlib import Path

from mitmproxy.certs import CertStore

# mitmproxy's file names inside its confdir; the key files hold the CA's private key.
CA_BASENAME = "mitmproxy"
PRIVATE_FILES = ("mitmproxy-ca.pem", "mitmproxy-ca.p12")


def ensure_ca(ca_dir: Path, key_size: int = 2048) -> Path:
    """Create the CA if missing, tighten permissions, and return the public certificate's path."""
    ca_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(ca_dir, 0o700)
    CertStore.from_store(ca_dir, CA_BASENAME, key_size)
    for name in PRIVATE_FILES:
        path = ca_dir / name
        if path.exists():
            os.chmod(path, 0o600)
    return ca_dir / "mitmproxy-ca-cert.pem"


def trust_instructions(cert: Path) -> str:
    return f"""Customs CA certificate: {cert}

Trust it in the clients that go through the explicit proxy:
  Node tools (Copilot CLI/language server, Claude Code):  export NODE_EXTRA_CA_CERTS={cert}
  Python SDKs (httpx):   export SSL_CERT_FILE=<bundle with this cert>   (or REQUESTS_CA_BUNDLE)
  curl:                  curl --cacert {cert} -x http://USER:KEY@HOST:PORT https://...
  Debian/Ubuntu store:   cp {cert} /usr/local/share/ca-certificates/customs.crt && update-ca-certificates
  macOS:                 sudo security add-trusted-cert -d -p ssl -p basic -k /Library/Keychains/System.keychain {cert}
  Windows:               certutil -addstore root {cert.with_suffix('.cer')}
  Java (JetBrains):      keytool -importcert -alias customs -file {cert} -keystore $JAVA_HOME/lib/security/cacerts
VS Code reads the OS store (http.systemCertificates) and NODE_EXTRA_CA_CERTS from the environment that launches it.
The private key ({cert.parent / PRIVATE_FILES[0]}) never leaves this machine; keep it 0600."""
