"""Provider adapters and how a request finds its adapter: by intercepted host or gateway path."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import unquote

from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.azure import AzureOpenAIAdapter
from proxy.providers.base import ProviderAdapter
from proxy.providers.compat import CompatAdapter
from proxy.providers.copilot import CopilotAdapter
from proxy.providers.gemini import GeminiAdapter
from proxy.providers.openai import OpenAIAdapter

__all__ = ["ADAPTERS", "AI_HOST_REGEXES", "GatewayRoute", "adapter_for_host", "gateway_route"]

# Adapters hold no per-request state, so one read-only instance of each serves every request.
ADAPTERS: Mapping[str, ProviderAdapter] = MappingProxyType(
    {
        a.name: a
        for a in (OpenAIAdapter(), AnthropicAdapter(), AzureOpenAIAdapter(), GeminiAdapter(),
                  CompatAdapter(), CopilotAdapter())
    }
)

_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
# (host pattern without anchors, provider). One label for Azure resources; Copilot plan hosts
# nest (api.business.githubcopilot.com), so any number of labels there.
_HOSTS: tuple[tuple[str, str], ...] = (
    (r"api\.openai\.com", "openai"),
    (r"(?:us|eu|au|in|jp|ae)\.api\.openai\.com", "openai"),
    (r"api\.anthropic\.com", "anthropic"),
    (rf"{_LABEL}\.openai\.azure\.com", "azure"),
    (rf"{_LABEL}\.services\.ai\.azure\.com", "azure"),
    (rf"{_LABEL}\.cognitiveservices\.azure\.com", "azure"),
    (r"generativelanguage\.googleapis\.com", "gemini"),
    (rf"{_LABEL}-aiplatform\.googleapis\.com", "gemini"),
    (r"aiplatform\.googleapis\.com", "gemini"),
    (r"aiplatform\.(?:us|eu)\.rep\.googleapis\.com", "gemini"),
    (rf"(?:{_LABEL}\.)+githubcopilot\.com", "copilot"),
    (r"copilot-proxy\.githubusercontent\.com", "copilot"),
    (r"copilot-telemetry\.githubusercontent\.com", "copilot"),
    (r"copilot-telemetry-service\.githubusercontent\.com", "copilot"),
)
_HOST_MATCHERS = tuple((re.compile(rf"^{pattern}$"), provider) for pattern, provider in _HOSTS)

# For mitmproxy's allow_hosts, which searches "host:port" strings and the bare SNI.
AI_HOST_REGEXES: list[str] = [rf"^{pattern}(?::\d+)?$" for pattern, _ in _HOSTS]


def adapter_for_host(host: str) -> ProviderAdapter | None:
    """The adapter for an intercepted host (port and trailing dot ignored), else None."""
    name = host.strip().lower()
    if name.startswith("["):
        return None  # an IPv6 literal is never a provider host
    name = name.rsplit(":", 1)[0] if ":" in name else name
    name = name.rstrip(".")
    for matcher, provider in _HOST_MATCHERS:
        if matcher.match(name):
            return ADAPTERS[provider]
    return None


@dataclass(frozen=True, slots=True)
class GatewayRoute:
    """Where a gateway request goes: provider, the path upstream, and the named target if any."""

    provider: str
    upstream_path: str
    target: str | None = None


# Providers whose gateway prefix carries a target name: /azure/{resource}/..., /compat/{name}/...
_TARGETED = {"azure": re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$"),
             "compat": re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")}
_PLAIN = frozenset({"openai", "anthropic", "gemini", "copilot"})


def gateway_route(path: str) -> GatewayRoute | None:
    """Route a gateway path such as `/openai/v1/chat/completions`; None if it names no provider.

    The query string, if any, is left out of `upstream_path`. Dot segments are refused so a
    path can never climb out of its provider's prefix upstream.
    """
    path = path.split("?", 1)[0].split("#", 1)[0]
    parts = path.split("/")
    if len(parts) < 2 or parts[0] != "":
        return None
    if any(unquote(p) in (".", "..") for p in parts[1:]):
        return None
    provider = parts[1]
    if provider in _PLAIN:
        rest = parts[2:]
        target = None
    elif provider in _TARGETED:
        if len(parts) < 3 or not _TARGETED[provider].match(parts[2]):
            return None
        target, rest = parts[2], parts[3:]
    else:
        return None
    return GatewayRoute(provider, "/" + "/".join(rest), target)
