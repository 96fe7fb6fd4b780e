"""The one configuration object: loaded from one YAML file plus environment, passed down."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Where each provider's traffic goes unless the config overrides it; None means "the host the
# client asked for" (explicit-proxy traffic such as Copilot's).
DEFAULT_PROVIDERS: dict[str, dict[str, Any]] = {
    "openai": {"upstream": "https://api.openai.com", "api_key_env": "OPENAI_API_KEY"},
    "anthropic": {"upstream": "https://api.anthropic.com", "api_key_env": "ANTHROPIC_API_KEY"},
    "azure": {"upstream": None, "api_key_env": "AZURE_OPENAI_API_KEY"},
    "gemini": {"upstream": "https://generativelanguage.googleapis.com", "api_key_env": "GEMINI_API_KEY"},
    "copilot": {"upstream": None, "api_key_env": None},
    "compat": {"upstream": None, "api_key_env": None},
}


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


@dataclass(frozen=True, slots=True)
class Listen:
    proxy: tuple[str, int] = ("127.0.0.1", 8080)
    gateway: tuple[str, int] = ("127.0.0.1", 8081)
    admin: tuple[str, int] = ("127.0.0.1", 8082)

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> Listen:
        base = cls()
        return cls(
            proxy=_hostport(d["proxy"]) if "proxy" in d else base.proxy,
            gateway=_hostport(d["gateway"]) if "gateway" in d else base.gateway,
            admin=_hostport(d["admin"]) if "admin" in d else base.admin,
        )


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """Upstream override for one provider (or one named OpenAI-compatible server)."""

    upstream: str | None
    api_key_env: str | None = None
    # For upstreams with a private CA or self-signed cert (tests, in-house vLLM): skip verification.
    insecure: bool = False

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 16 * 1024 * 1024


@dataclass(slots=True)
class Config:
    data_dir: Path = Path(".customs")
    listen: Listen = field(default_factory=Listen)
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    users_file: Path = Path("policies/data/users.yaml")
    limits: Limits = field(default_factory=Limits)
    # Sections owned by the libraries: kept as dicts here and turned into each library's own
    # config dataclass (`from_dict`) where that library is opened.
    redaction: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)
    budgets: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    def provider(self, name: str) -> ProviderConfig:
        return self.providers.get(name) or ProviderConfig(upstream=None)

    @property
    def ca_dir(self) -> Path:
        return self.data_dir / "ca"

    @property
    def ca_cert(self) -> Path:
        return self.ca_dir / "mitmproxy-ca-cert.pem"


def load_config(path: str | Path | None = None) -> Config:
    """Read the YAML file (every key optional), then apply CUSTOMS_* environment overrides."""
    path = path or os.environ.get("CUSTOMS_CONFIG")
    raw: dict[str, Any] = {}
    if path:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: the config must be a YAML mapping")
    providers = {name: dict(v) for name, v in DEFAULT_PROVIDERS.items()}
    for name, over in (raw.get("providers") or {}).items():
        providers.setdefault(name, {}).update(over or {})
    cfg = Config(
        data_dir=Path(os.environ.get("CUSTOMS_DATA_DIR") or raw.get("data_dir") or ".customs"),
        listen=Listen.from_dict(raw.get("listen") or {}),
        providers={
            n: ProviderConfig(upstream=v.get("upstream"), api_key_env=v.get("api_key_env"),
                              insecure=bool(v.get("insecure", False)))
            for n, v in providers.items()
        },
        users_file=Path((raw.get("identity") or {}).get("users_file") or "policies/data/users.yaml"),
        limits=Limits(**(raw.get("limits") or {})),
        redaction=dict(raw.get("redaction") or {}),
        policy=dict(raw.get("policy") or {}),
        budgets=dict(raw.get("budgets") or {}),
        audit=dict(raw.get("audit") or {}),
        source=Path(path) if path else None,
    )
    return cfg
