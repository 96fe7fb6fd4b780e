"""Google Gemini wire format: the Developer API and Vertex AI generateContent family."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, ClassVar
from urllib.parse import unquote

from proxy.exchange import JsonPath, Segment, Usage
from proxy.providers.base import (
    PassThroughStream,
    ProviderAdapter,
    RequestInfo,
    SseEvent,
    StreamHandler,
    TextFilter,
    as_int,
    bearer_token,
    cap,
    header_del,
    header_get,
    header_set,
    json_event,
    parse_json_event,
    require_object,
    set_json_data,
    string_leaves,
)
from proxy.providers.openai import generic_request

# /v1beta/models/{m}:method, /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:method,
# /v1/publishers/google/models/{m}:method (Vertex express), tunedModels and Vertex endpoints.
_METHOD_PATH = re.compile(r"^/(?:v1|v1beta|v1alpha|v1beta1)/(?:[^:]*/)?(?:models|tunedModels|endpoints)/([^/:]+):(\w+)$")
_METHODS = {
    "generateContent": "generate",
    "streamGenerateContent": "generate",
    "countTokens": "count_tokens",
    "embedContent": "embeddings",
    "batchEmbedContents": "embeddings",
}
_ROLES = {"user": "user", "model": "assistant", "function": "tool", "system": "system"}

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _snake(camel: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)


def field(obj: Any, camel: str) -> tuple[str, Any]:
    """(key, value) of a field spelt camelCase or snake_case: proto JSON accepts both."""
    if isinstance(obj, dict):
        if camel in obj:
            return camel, obj[camel]
        snake = _snake(camel)
        if snake in obj:
            return snake, obj[snake]
    return camel, None


def _content_segments(content: Any, path: JsonPath, default_role: str) -> Iterator[Segment]:
    """Text of one Content: its parts' text, function-call args and function responses."""
    if isinstance(content, str):
        yield Segment(path, content, default_role)
        return
    if not isinstance(content, dict):
        return
    raw_role = content.get("role")
    role = _ROLES.get(raw_role, default_role) if isinstance(raw_role, str) else default_role
    key, parts = field(content, "parts")
    if not isinstance(parts, list):
        return
    for k, part in enumerate(parts):
        if not isinstance(part, dict) or part.get("thought") is True:
            continue  # thought parts come back signed; they are neither masked nor restored
        ppath = path + (key, k)
        if isinstance(part.get("text"), str):
            yield Segment(ppath + ("text",), part["text"], role)
        for name, sub, srole in (
            ("functionCall", "args", "assistant"),
            ("functionResponse", "response", "tool"),
            ("executableCode", "code", "assistant"),
            ("codeExecutionResult", "output", "tool"),
        ):
            pkey, value = field(part, name)
            if isinstance(value, dict) and sub in value:
                for p, text in string_leaves(value[sub], ppath + (pkey, sub)):
                    yield Segment(p, text, srole)


def _contents_segments(body: dict[str, Any], required: bool) -> list[Segment]:
    key, contents = field(body, "contents")
    if contents is None and not required:
        contents = []
    if not isinstance(contents, list):
        raise ValueError("contents: must be a list of Content objects")
    segs: list[Segment] = []
    skey, system = field(body, "systemInstruction")
    segs.extend(_content_segments(system, (skey,), "system"))
    for i, content in enumerate(contents):
        if not isinstance(content, (dict, str)):
            raise ValueError(f"contents[{i}]: must be a Content object")
        segs.extend(_content_segments(content, (key, i), "user"))
    return segs


def request_segments(method: str, body: dict[str, Any]) -> list[Segment]:
    """Every text field of a generateContent / countTokens / embed request."""
    if method in ("generateContent", "streamGenerateContent"):
        return _contents_segments(body, required=True)
    if method == "countTokens":
        rkey, inner = field(body, "generateContentRequest")
        if isinstance(inner, dict):
            return [Segment((rkey,) + s.path, s.text, s.role) for s in _contents_segments(inner, required=True)]
        if field(body, "contents")[1] is None:
            raise ValueError("countTokens: 'contents' or 'generateContentRequest' is required")
        return _contents_segments(body, required=True)
    if method == "embedContent":
        ckey, content = field(body, "content")
        if not isinstance(content, dict):
            raise ValueError("content: field required (a Content object)")
        return list(_content_segments(content, (ckey,), "input"))
    # batchEmbedContents
    rkey, requests = field(body, "requests")
    if not isinstance(requests, list):
        raise ValueError("requests: must be a list of EmbedContentRequest objects")
    segs: list[Segment] = []
    for i, req in enumerate(requests):
        ckey, content = field(req, "content")
        segs.extend(_content_segments(content, (rkey, i, ckey), "input"))
    return segs


def gemini_usage(meta: Any) -> Usage | None:
    """Usage from `usageMetadata`; thinking tokens are billed as output."""
    if not isinstance(meta, dict):
        return None
    return Usage(
        input_tokens=as_int(field(meta, "promptTokenCount")[1]) or 0,
        output_tokens=(as_int(field(meta, "candidatesTokenCount")[1]) or 0)
        + (as_int(field(meta, "thoughtsTokenCount")[1]) or 0),
        cached_tokens=as_int(field(meta, "cachedContentTokenCount")[1]) or 0,
    )


def _rewrite_leaves(node: Any, fn: Callable[[str], str]) -> bool:
    changed = False
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in list(items):
        if isinstance(v, str):
            new = fn(v)
            if new != v:
                node[k] = new
                changed = True
        else:
            changed |= _rewrite_leaves(v, fn)
    return changed


def _candidate_parts(cand: Any) -> list[Any]:
    content = field(cand, "content")[1]
    parts = field(content, "parts")[1]
    return parts if isinstance(parts, list) else []


def rewrite_candidates(body: Any, fn: Callable[[str], str]) -> bool:
    """Apply `fn` to candidate texts and function-call args of one response; True if changed."""
    changed = False
    candidates = field(body, "candidates")[1]
    for cand in candidates if isinstance(candidates, list) else []:
        for part in _candidate_parts(cand):
            if not isinstance(part, dict) or part.get("thought") is True:
                continue
            if isinstance(part.get("text"), str):
                new = fn(part["text"])
                if new != part["text"]:
                    part["text"] = new
                    changed = True
            call = field(part, "functionCall")[1]
            if isinstance(call, dict):
                changed |= _rewrite_leaves(call.get("args"), fn)
    return changed


class GenerateStream(StreamHandler):
    """`data:` chunks that are each a full GenerateContentResponse, with no terminator.

    Channel "cand:{index}" per candidate: part indices restart in every chunk while a
    candidate's text parts concatenate, so the candidate is the stable unit.
    """

    def __init__(self, text_filter: TextFilter, drop_usage_chunk: bool = False) -> None:
        super().__init__(text_filter, drop_usage_chunk)
        self._open: set[int] = set()

    def on_event(self, ev: SseEvent) -> list[SseEvent]:
        obj = parse_json_event(ev)
        if not isinstance(obj, dict):
            return [ev]
        if obj.get("error"):
            return self.on_end() + [ev]
        usage = gemini_usage(field(obj, "usageMetadata")[1])
        if usage is not None:
            self.usage = usage  # cumulative: the last report is the total
        version = field(obj, "modelVersion")[1]
        if isinstance(version, str):
            self.model = version
        candidates = field(obj, "candidates")[1]
        changed = False
        for pos, cand in enumerate(candidates if isinstance(candidates, list) else []):
            if isinstance(cand, dict):
                index = as_int(cand.get("index"))
                changed |= self._transform(pos if index is None else index, cand)
        if changed:
            set_json_data(ev, obj)
        return [ev]

    def _transform(self, index: int, cand: dict[str, Any]) -> bool:
        channel = f"cand:{index}"
        changed = False
        last_text: dict[str, Any] | None = None
        for part in _candidate_parts(cand):
            if not isinstance(part, dict) or part.get("thought") is True:
                continue
            text = part.get("text")
            if isinstance(text, str) and text:
                self._open.add(index)
                new = self.filter.feed(channel, text)
                if new != text:
                    part["text"] = new
                    changed = True
                last_text = part
            call = field(part, "functionCall")[1]
            if isinstance(call, dict):
                changed |= _rewrite_leaves(call.get("args"), self.filter.full)
        if field(cand, "finishReason")[1] and index in self._open:
            self._open.discard(index)
            held = self.filter.flush(channel)
            if held:
                if last_text is not None:
                    last_text["text"] += held
                else:
                    ckey, content = field(cand, "content")
                    if not isinstance(content, dict):
                        content = cand[ckey] = {"role": "model", "parts": []}
                    pkey, parts = field(content, "parts")
                    if not isinstance(parts, list):
                        parts = content[pkey] = []
                    parts.append({"text": held})
                changed = True
        return changed

    def on_end(self) -> list[SseEvent]:
        candidates = []
        for index in sorted(self._open):
            held = self.filter.flush(f"cand:{index}")
            if held:
                candidates.append({"content": {"role": "model", "parts": [{"text": held}]}, "index": index})
        self._open.clear()
        if not candidates:
            return []
        obj: dict[str, Any] = {"candidates": candidates}
        if self.model:
            obj["modelVersion"] = self.model
        return [json_event(obj)]


class GeminiAdapter(ProviderAdapter):
    """generativelanguage.googleapis.com and the Vertex AI hosts."""

    name = "gemini"
    default_upstream: ClassVar[str | None] = "https://generativelanguage.googleapis.com"

    def parse(self, method: str, path: str, query: MutableMapping[str, str], body: Any) -> RequestInfo | None:
        path = path.rstrip("/") or "/"
        if not re.match(r"^/(v1|v1beta|v1alpha|v1beta1)(/|$)", path):
            return None
        m = _METHOD_PATH.match(path)
        if m is None or m.group(2) not in _METHODS or method.upper() != "POST":
            return generic_request(method, body)
        model, rpc = unquote(m.group(1)), m.group(2)
        body = require_object(body)
        segments = request_segments(rpc, body)
        config = field(body, "generationConfig")[1]
        return RequestInfo(
            endpoint=_METHODS[rpc],
            model=model,
            # Without alt=sse the stream is one JSON array, handled like a plain body.
            stream=rpc == "streamGenerateContent" and query.get("alt") == "sse",
            max_tokens=as_int(field(config, "maxOutputTokens")[1]),
            segments=segments,
        )

    def usage_from_body(self, endpoint: str, body: Any) -> Usage | None:
        if endpoint != "generate":
            return None
        if isinstance(body, list):  # streamGenerateContent without alt=sse
            usage = None
            for chunk in body:
                usage = gemini_usage(field(chunk, "usageMetadata")[1]) or usage
            return usage
        return gemini_usage(field(body, "usageMetadata")[1])

    def rewrite_response(self, endpoint: str, body: Any, fn: Callable[[str], str]) -> None:
        if endpoint != "generate":
            return
        for chunk in body if isinstance(body, list) else [body]:
            rewrite_candidates(chunk, fn)

    def stream_handler(self, endpoint: str, text_filter: TextFilter, drop_usage_chunk: bool) -> StreamHandler:
        if endpoint == "generate":
            return GenerateStream(text_filter, drop_usage_chunk)
        return PassThroughStream(text_filter, drop_usage_chunk)

    def set_max_tokens(self, endpoint: str, body: Any, limit: int) -> None:
        if endpoint != "generate" or not isinstance(body, dict):
            return
        ckey, config = field(body, "generationConfig")
        if not isinstance(config, dict):
            config = body[ckey] = {}
        fkey, current = field(config, "maxOutputTokens")
        config[fkey] = cap(current, limit)

    def error_body(self, status: int, message: str, code: str = "") -> bytes:
        return json.dumps(self._error(status, message, code)).encode()

    def stream_error_event(self, message: str, code: str = "") -> SseEvent:
        return json_event(self._error(500, message, code))

    @staticmethod
    def _error(status: int, message: str, code: str) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": status,
            "message": message,
            "status": _STATUS.get(status) or ("INTERNAL" if status >= 500 else "FAILED_PRECONDITION"),
        }
        if code:
            error["details"] = [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code, "domain": "customs"}
            ]
        return {"error": error}

    def client_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str]) -> str | None:
        return header_get(headers, "x-goog-api-key") or query.get("key") or bearer_token(headers)

    def set_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str], key: str) -> None:
        """Write the key where the client put its own: header, `key` query, or Bearer (Vertex)."""
        if header_get(headers, "x-goog-api-key") is None and "key" in query:
            query["key"] = key
            header_del(headers, "Authorization")
        elif header_get(headers, "x-goog-api-key") is None and bearer_token(headers) is not None:
            header_set(headers, "Authorization", f"Bearer {key}")
            query.pop("key", None)
        else:
            header_set(headers, "x-goog-api-key", key)
            header_del(headers, "Authorization")
            query.pop("key", None)
