"""Azure OpenAI: the deployments API and the v1 API, both in OpenAI's wire format.

Only paths and credentials differ from OpenAI, so this subclasses `OpenAIAdapter`.
"""
from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import unquote

from proxy.providers.base import RequestInfo, bearer_token, header_del, header_get, header_set
from proxy.providers.openai import OpenAIAdapter

_DEPLOYMENT = re.compile(r"^/openai/deployments/([^/]+)/(chat/completions|completions|embeddings)$")
_DEPLOYMENT_KINDS = {"chat/completions": "chat", "completions": "completions", "embeddings": "embeddings"}


class AzureOpenAIAdapter(OpenAIAdapter):
    """{resource}.openai.azure.com (and the Foundry / Cognitive Services hosts)."""

    name = "azure"
    default_upstream = None  # the resource host: from the gateway target or the client's host

    def parse(self, method: str, path: str, query: MutableMapping[str, str], body: Any) -> RequestInfo | None:
        path = path.rstrip("/") or "/"
        if path == "/openai/v1" or path.startswith("/openai/v1/"):
            # The v1 API is OpenAI's API under /openai; model = deployment name in the body.
            return super().parse(method, path[len("/openai"):], query, body)
        if not path.startswith("/openai/"):
            return None
        m = _DEPLOYMENT.match(path)
        if m and method.upper() == "POST":
            info = self.describe(_DEPLOYMENT_KINDS[m.group(2)], body)
            info.model = unquote(m.group(1))  # the deployment decides the model, not the body
            return info
        if path == "/openai/responses" and method.upper() == "POST":
            return self.describe("responses", body)  # preview Responses API (api-version query)
        return self.describe("other", body, method)

    def client_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str]) -> str | None:
        return header_get(headers, "api-key") or bearer_token(headers)

    def set_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str], key: str) -> None:
        """Write the key as `api-key` unless the client sent only a Bearer token."""
        if header_get(headers, "api-key") is None and bearer_token(headers) is not None:
            header_set(headers, "Authorization", f"Bearer {key}")
        else:
            header_del(headers, "Authorization")
            header_set(headers, "api-key", key)
