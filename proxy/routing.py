"""Where one request goes: its adapter, the upstream to forward to, and the host policy sees."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from proxy.config import Config
from proxy.providers import ADAPTERS, adapter_for_host, gateway_route
from proxy.providers.base import ProviderAdapter


@dataclass(frozen=True, slots=True)
class Upstream:
    scheme: str
    host: str
    port: int

    @classmethod
    @lru_cache(maxsize=1024)  # a handful of configured URLs, parsed on every request otherwise
    def parse(cls, url: str) -> Upstream:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        scheme = parts.scheme or "https"
        return cls(scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80))

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Target:
    """The resolved destination of one AI request."""

    adapter: ProviderAdapter
    provider: str  # adapter name, or the config key of a named compat server
    path: str  # upstream path without query
    logical_host: str  # what policy and audit see (the provider's real host)
    upstream: Upstream  # where the bytes actually go (an override in tests or self-hosting)
    via: str  # gateway | proxy
    insecure: bool = False


class RouteError(Exception):
    """The request cannot be routed; the message is safe to show the client."""

    def __init__(self, status: int, message: str, adapter: ProviderAdapter | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.adapter = adapter


def resolve_gateway(config: Config, path: str) -> Target | None:
    """Route a base-URL request by its path prefix (/openai/v1/..., /anthropic/v1/..., ...)."""
    route = gateway_route(path)
    if route is None:
        return None
    adapter = ADAPTERS[route.provider]
    key = route.provider
    if route.provider == "compat":
        key = route.target or ""
        pc = config.providers.get(key)
        if pc is None or not pc.upstream:
            raise RouteError(404, f"no OpenAI-compatible server named {key!r} is configured", adapter)
        up = Upstream.parse(pc.upstream)
        return Target(adapter, key, route.upstream_path, up.host, up, "gateway", pc.insecure)
    if route.provider == "azure":
        logical = f"{route.target}.openai.azure.com"
        pc = config.provider("azure")
        up = Upstream.parse(pc.upstream) if pc.upstream else Upstream("https", logical, 443)
        return Target(adapter, key, route.upstream_path, logical, up, "gateway", pc.insecure)
    pc = config.provider(key)
    default = adapter.default_upstream or "https://api.githubcopilot.com"
    logical = Upstream.parse(default).host
    up = Upstream.parse(pc.upstream) if pc.upstream else Upstream.parse(default)
    return Target(adapter, key, route.upstream_path, logical, up, "gateway", pc.insecure)


def resolve_proxy(config: Config, host: str, port: int, scheme: str, path: str) -> Target | None:
    """Route an explicit-proxy request by the host the client asked for (None: not an AI host)."""
    adapter = adapter_for_host(host)
    if adapter is None:
        return None
    pc = config.provider(adapter.name)
    up = Upstream.parse(pc.upstream) if pc.upstream else Upstream(scheme, host, port)
    return Target(adapter, adapter.name, path, host, up, "proxy", pc.insecure)


def rerouted(config: Config, target: Target, endpoint: str, upstream_url: str) -> Target:
    """The target after policy routed it to another endpoint (e.g. an in-region one)."""
    pc = config.providers.get(endpoint)
    real = Upstream.parse(upstream_url)
    up = Upstream.parse(pc.upstream) if pc and pc.upstream else real
    return Target(target.adapter, target.provider, target.path, real.host, up, target.via,
                  pc.insecure if pc else target.insecure)
