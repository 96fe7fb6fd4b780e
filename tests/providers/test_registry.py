"""The adapter registry: host table, mitmproxy allow_hosts regexes, gateway path routing."""
from __future__ import annotations

import re

import pytest

from proxy.providers import ADAPTERS, AI_HOST_REGEXES, GatewayRoute, adapter_for_host, gateway_route
from proxy.providers.base import ProviderAdapter

HOSTS = [
    ("api.openai.com", "openai"),
    ("eu.api.openai.com", "openai"),
    ("us.api.openai.com:443", "openai"),
    ("ae.api.openai.com", "openai"),
    ("jp.api.openai.com", "openai"),
    ("API.OpenAI.com.", "openai"),
    ("api.anthropic.com", "anthropic"),
    ("myres.openai.azure.com", "azure"),
    ("myres.services.ai.azure.com", "azure"),
    ("myres.cognitiveservices.azure.com", "azure"),
    ("generativelanguage.googleapis.com", "gemini"),
    ("europe-west4-aiplatform.googleapis.com", "gemini"),
    ("aiplatform.googleapis.com", "gemini"),
    ("aiplatform.eu.rep.googleapis.com", "gemini"),
    ("api.githubcopilot.com", "copilot"),
    ("api.business.githubcopilot.com", "copilot"),
    ("proxy.individual.githubcopilot.com:443", "copilot"),
    ("copilot-proxy.githubusercontent.com", "copilot"),
    ("copilot-telemetry.githubusercontent.com", "copilot"),
    ("copilot-telemetry-service.githubusercontent.com", "copilot"),
]
NOT_AI = [
    "github.com", "api.github.com", "openai.com", "mtls.api.openai.com", "fr.api.openai.com",
    "api.openai.com.evil.example", "evilapi.openai.com", "anthropic.com", "a.b.openai.azure.com",
    "openai.azure.com", "googleapis.com", "storage.googleapis.com", "aiplatform.fr.rep.googleapis.com",
    "githubcopilot.com", "githubcopilot.com.evil.example", "avatars.githubusercontent.com", "[::1]:443", "127.0.0.1",
]


def test_registry_holds_the_six_adapters_under_their_names():
    assert sorted(ADAPTERS) == ["anthropic", "azure", "compat", "copilot", "gemini", "openai"]
    assert all(isinstance(a, ProviderAdapter) and a.name == n for n, a in ADAPTERS.items())
    with pytest.raises(TypeError):
        ADAPTERS["x"] = ADAPTERS["openai"]  # type: ignore[index]


@pytest.mark.parametrize(("host", "provider"), HOSTS)
def test_adapter_for_ai_hosts(host, provider):
    assert adapter_for_host(host) is ADAPTERS[provider]


@pytest.mark.parametrize("host", NOT_AI)
def test_other_hosts_have_no_adapter(host):
    assert adapter_for_host(host) is None


def allowed(candidate: str) -> bool:
    """mitmproxy's allow_hosts test: re.search, case-insensitive, on "host:port" or the SNI."""
    return any(re.search(rex, candidate, re.IGNORECASE) for rex in AI_HOST_REGEXES)


@pytest.mark.parametrize(("host", "provider"), HOSTS)
def test_allow_hosts_regexes_match_ai_hosts_with_and_without_port(host, provider):
    bare = host.split(":")[0].rstrip(".")
    assert allowed(f"{bare}:443") and allowed(bare)


@pytest.mark.parametrize("host", NOT_AI)
def test_allow_hosts_regexes_reject_every_other_host(host):
    bare = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    assert not allowed(f"{bare}:443") and not allowed(bare)


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/openai/v1/chat/completions", GatewayRoute("openai", "/v1/chat/completions", None)),
        ("/openai/v1/models?limit=2", GatewayRoute("openai", "/v1/models", None)),
        ("/anthropic/v1/messages", GatewayRoute("anthropic", "/v1/messages", None)),
        ("/azure/myres/openai/deployments/d/chat/completions?api-version=2024-10-21",
         GatewayRoute("azure", "/openai/deployments/d/chat/completions", "myres")),
        ("/gemini/v1beta/models/m:generateContent", GatewayRoute("gemini", "/v1beta/models/m:generateContent", None)),
        ("/gemini/v1beta/models/m:streamGenerateContent?alt=sse", GatewayRoute("gemini", "/v1beta/models/m:streamGenerateContent", None)),
        ("/compat/ollama/v1/chat/completions", GatewayRoute("compat", "/v1/chat/completions", "ollama")),
        ("/compat/vllm-1/completions", GatewayRoute("compat", "/completions", "vllm-1")),
        ("/copilot/v1/engines/x/completions", GatewayRoute("copilot", "/v1/engines/x/completions", None)),
        ("/openai", GatewayRoute("openai", "/", None)),
    ],
)
def test_gateway_routes(path, route):
    assert gateway_route(path) == route


@pytest.mark.parametrize(
    "path",
    ["/", "", "/v1/chat/completions", "/mistral/v1/chat", "/azure/", "/azure", "/compat//v1/x",
     "/openai/../admin", "/compat/x/%2e%2e/y", "/azure/bad_res!/openai", "openai/v1/x"],
)
def test_paths_that_name_no_provider_or_climb_out_are_refused(path):
    assert gateway_route(path) is None


def test_credential_swaps_work_on_mitmproxy_headers_and_query():
    """The adapters see mitmproxy's case-insensitive Headers and query MultiDictView in production."""
    from mitmproxy.test import tutils

    req = tutils.treq(path=b"/v1beta/models/m:generateContent?key=cus_virtual&alt=sse")
    req.headers["Authorization"] = "Bearer cus_virtual"
    gemini = ADAPTERS["gemini"]
    assert gemini.client_credential(req.headers, req.query) == "cus_virtual"
    gemini.set_credential(req.headers, req.query, "AIza-real")
    assert req.query["key"] == "AIza-real" and req.query["alt"] == "sse"
    assert "authorization" not in req.headers and "cus_virtual" not in req.url

    req = tutils.treq()
    req.headers["X-API-KEY"] = "cus_virtual"
    req.headers["authorization"] = "Bearer other"
    anthropic = ADAPTERS["anthropic"]
    assert anthropic.client_credential(req.headers, req.query) == "cus_virtual"
    anthropic.set_credential(req.headers, req.query, "sk-ant-real")
    assert req.headers.get_all("x-api-key") == ["sk-ant-real"] and "authorization" not in req.headers

    req = tutils.treq()
    req.headers["authorization"] = "Bearer cus_virtual"
    ADAPTERS["openai"].set_credential(req.headers, req.query, "sk-real")
    assert req.headers.get_all("Authorization") == ["Bearer sk-real"]
