"""GitHub Copilot: FIM completions plus chat traffic relayed in OpenAI and Anthropic formats.

Copilot's own formats are compositions: FIM is OpenAI legacy completions with extras, chat
is OpenAI chat/Responses, Claude models speak Anthropic Messages. This adapter routes by
path and delegates to the OpenAI and Anthropic adapters it holds.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from proxy.exchange import Segment, Usage
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.base import ProviderAdapter, RequestInfo, SseEvent, StreamHandler, TextFilter, text_leaves
from proxy.providers.openai import OpenAIAdapter

_ENGINE_COMPLETIONS = re.compile(r"^/v1/engines/([^/]+)/completions$")
_OPENAI_PATHS = {
    "/chat/completions": "chat",
    "/v1/chat/completions": "chat",
    "/responses": "responses",
    "/v1/responses": "responses",
    "/embeddings": "embeddings",
    "/v1/embeddings": "embeddings",
}
_ANTHROPIC_PATHS = {"/v1/messages": "messages", "/v1/messages/count_tokens": "count_tokens"}
_ANTHROPIC_ENDPOINTS = frozenset(_ANTHROPIC_PATHS.values())
_TELEMETRY_PATHS = frozenset({"/telemetry", "/v2/track", "/v2.1/track"})
# Control-plane paths: catalogue, health, model policy toggles. No prompt text.
_CONTROL = re.compile(r"^/(_ping|models(/[^/]+(/policy)?)?|v1/models)$")
# `extra` fields that are enums or numbers the client computed, not code or prose.
_EXTRA_ENUMS = frozenset({"language", "languageId", "language_id", "next_indent", "trim_by_indentation",
                          "prompt_tokens", "suffix_tokens", "force_indent"})
# "# path: src/app.py", "// Path: x", "# filepath: x", "<!-- path: x -->" at the start of a line.
_PATH_COMMENT = re.compile(
    r"^[ \t]*(?:#|//|--|;|%|/\*|<!--)[ \t]*(?:file)?path[ \t]*:[ \t]*(\S[^\r\n]*?)[ \t]*(?:\*/|-->)?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


def file_paths_in(prompt: str) -> list[str]:
    """Paths named by `# path:`-style comments in a completion prompt, first seen first."""
    seen: dict[str, None] = {}
    for m in _PATH_COMMENT.finditer(prompt):
        seen.setdefault(m.group(1), None)
    return list(seen)


class CopilotAdapter(ProviderAdapter):
    """*.githubcopilot.com and copilot-*.githubusercontent.com."""

    name = "copilot"
    default_upstream = None  # the host the client asked for (the plan's own endpoint)

    def __init__(self) -> None:
        self._openai = OpenAIAdapter()
        self._anthropic = AnthropicAdapter()

    def _format(self, endpoint: str) -> ProviderAdapter:
        return self._anthropic if endpoint in _ANTHROPIC_ENDPOINTS else self._openai

    def parse(self, method: str, path: str, query: MutableMapping[str, str], body: Any) -> RequestInfo | None:
        path = path.rstrip("/") or "/"
        if path in _TELEMETRY_PATHS:
            return RequestInfo(endpoint="telemetry", scan_required=False)
        if method.upper() != "POST" or _CONTROL.match(path):
            return RequestInfo(endpoint="other", scan_required=False)
        engine = _ENGINE_COMPLETIONS.match(path)
        if engine or path == "/v1/completions":
            return self._fim(body, unquote(engine.group(1)) if engine else None)
        if path in _OPENAI_PATHS:
            return self._openai.describe(_OPENAI_PATHS[path], body)
        if path in _ANTHROPIC_PATHS:
            return self._anthropic.describe(_ANTHROPIC_PATHS[path], body)
        # Unknown Copilot API (agents, threads ...): scan every string it carries.
        return self._openai.describe("other", body, method)

    def _fim(self, body: Any, engine: str | None) -> RequestInfo:
        info = self._openai.describe("completions", body)
        info.endpoint = "fim"
        if engine:
            info.model = engine
        extra = body.get("extra")
        if isinstance(extra, dict):
            for path, text in text_leaves(extra, ("extra",), _EXTRA_ENUMS):
                info.segments.append(Segment(path, text, "context"))
        nwo = body.get("nwo")
        info.repo = nwo if isinstance(nwo, str) and nwo else None
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            info.file_paths = file_paths_in(prompt)
        return info

    def usage_from_body(self, endpoint: str, body: Any) -> Usage | None:
        return self._format(endpoint).usage_from_body(endpoint, body)

    def rewrite_response(self, endpoint: str, body: Any, fn: Callable[[str], str]) -> None:
        self._format(endpoint).rewrite_response(endpoint, body, fn)

    def stream_handler(self, endpoint: str, text_filter: TextFilter, drop_usage_chunk: bool) -> StreamHandler:
        return self._format(endpoint).stream_handler(endpoint, text_filter, drop_usage_chunk)

    def ensure_stream_usage(self, endpoint: str, body: Any) -> bool:
        # FIM goes to Copilot's completions proxy, which may not accept stream_options:
        # its usage is estimated instead.
        if endpoint == "fim":
            return False
        return self._format(endpoint).ensure_stream_usage(endpoint, body)

    def set_max_tokens(self, endpoint: str, body: Any, limit: int) -> None:
        self._format(endpoint).set_max_tokens(endpoint, body, limit)

    def error_body(self, status: int, message: str, code: str = "") -> bytes:
        return self._openai.error_body(status, message, code)

    def error_body_for(self, endpoint: str, status: int, message: str, code: str = "") -> bytes:
        """Anthropic's error shape for /v1/messages, OpenAI's for everything else."""
        return self._format(endpoint).error_body(status, message, code)

    def stream_error_event_for(self, endpoint: str, message: str, code: str = "") -> SseEvent:
        return self._format(endpoint).stream_error_event_for(endpoint, message, code)

    def client_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str]) -> str | None:
        """None: Copilot's own short-lived Bearer token is the credential and passes through."""
        return None

    def set_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str], key: str) -> None:
        """Nothing to replace: the client's Copilot token goes upstream unchanged."""


def is_telemetry_path(path: str) -> bool:
    return (path.rstrip("/") or "/") in _TELEMETRY_PATHS


def parse_telemetry(raw: bytes) -> list[Any]:
    """App Insights envelopes from a telemetry body: a JSON array, one object, or NDJSON."""
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return []
    try:
        doc = json.loads(text)
        return doc if isinstance(doc, list) else [doc]
    except ValueError:
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # telemetry is best effort: one bad line must not hide the rest
        return out


def acceptance_events(envelopes: list[Any]) -> list[tuple[str, bool]]:
    """(completion request id, accepted) for each ghost-text accepted/rejected event.

    `headerRequestId` links the event to the completion's X-Request-Id, which the audit trail
    records with the exchange, so acceptance can be joined to completions for ROI.
    """
    out = []
    for env in envelopes:
        if not isinstance(env, dict):
            continue
        base = (env.get("data") or {}).get("baseData") or {}
        name = str(base.get("name", ""))
        if not (name.endswith("ghostText.accepted") or name.endswith("ghostText.rejected")):
            continue
        rid = (base.get("properties") or {}).get("headerRequestId")
        if isinstance(rid, str) and rid:
            out.append((rid, name.endswith(".accepted")))
    return out
