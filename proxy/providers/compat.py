"""OpenAI-compatible servers (vLLM, Ollama, LM Studio ...): OpenAI's format, any base path."""
from __future__ import annotations

from proxy.providers.openai import OpenAIAdapter


class CompatAdapter(OpenAIAdapter):
    """A self-hosted OpenAI-compatible server; its base URL comes from configuration."""

    name = "compat"
    default_upstream = None

    def endpoint_for(self, method: str, path: str) -> str | None:
        """Same endpoints as OpenAI, with or without the `/v1` prefix; every path is the server's."""
        path = path.rstrip("/") or "/"
        if path != "/v1" and not path.startswith("/v1/"):
            path = "/v1" + (path if path != "/" else "")
        return super().endpoint_for(method, path)
