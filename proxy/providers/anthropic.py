"""Anthropic Messages wire format: /v1/messages and /v1/messages/count_tokens."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, ClassVar

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
    text_leaves,
)
from proxy.providers.openai import generic_request

ENDPOINT_PATHS = {"/v1/messages": "messages", "/v1/messages/count_tokens": "count_tokens"}

# Signed model state: editing it makes the API reject the conversation.
_UNTOUCHABLE_BLOCKS = frozenset({"thinking", "redacted_thinking"})
# Blocks with no prose of their own.
_BINARY_BLOCKS = frozenset({"image", "container_upload"})
_OPAQUE_KEYS = frozenset(
    {"type", "id", "tool_use_id", "name", "signature", "encrypted_content", "encrypted_index",
     "cache_control", "media_type", "file_id", "citations"}
)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ERROR_TYPE_NAMES = frozenset(_ERROR_TYPES.values()) | {"api_error"}


def _blocks(content: Any, path: JsonPath, role: str) -> Iterator[Segment]:
    """Text of a content value: a string, or a list of content blocks."""
    if isinstance(content, str):
        yield Segment(path, content, role)
        return
    if not isinstance(content, list):
        return
    for j, block in enumerate(content):
        bpath = path + (j,)
        if isinstance(block, str):
            yield Segment(bpath, block, role)
            continue
        if not isinstance(block, dict):
            continue
        btype = block.get("type") if isinstance(block.get("type"), str) else ""
        if btype in _UNTOUCHABLE_BLOCKS or btype in _BINARY_BLOCKS:
            continue
        if btype == "text":
            if isinstance(block.get("text"), str):
                yield Segment(bpath + ("text",), block["text"], role)
        elif btype in ("tool_use", "server_tool_use"):
            for p, text in string_leaves(block.get("input"), bpath + ("input",)):
                yield Segment(p, text, "assistant")
        elif btype == "tool_result":
            yield from _blocks(block.get("content"), bpath + ("content",), "tool")
        elif btype == "document":
            yield from _document(block, bpath, role)
        else:
            # search_result, *_tool_result and future block types: scan their strings.
            for p, text in text_leaves(block, bpath, _OPAQUE_KEYS):
                yield Segment(p, text, role)


def _document(block: dict[str, Any], path: JsonPath, role: str) -> Iterator[Segment]:
    source = block.get("source")
    if isinstance(source, dict):
        if source.get("type") == "text" and isinstance(source.get("data"), str):
            yield Segment(path + ("source", "data"), source["data"], role)
        elif source.get("type") == "content":
            yield from _blocks(source.get("content"), path + ("source", "content"), role)
    for key in ("title", "context"):
        if isinstance(block.get(key), str):
            yield Segment(path + (key,), block[key], role)


def messages_segments(body: dict[str, Any]) -> list[Segment]:
    """Every text field of a Messages request: system, message blocks, tool inputs and results."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise ValueError("messages: field required (a list of message objects)")
    segs: list[Segment] = list(_blocks(body.get("system"), ("system",), "system"))
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ValueError(f"messages.{i}: must be an object")
        role = "assistant" if msg.get("role") == "assistant" else "user"
        segs.extend(_blocks(msg.get("content"), ("messages", i, "content"), role))
    return segs


def anthropic_usage(u: Any) -> Usage | None:
    """Usage from a Messages `usage` object; input includes cache writes and reads."""
    if not isinstance(u, dict):
        return None
    read = as_int(u.get("cache_read_input_tokens")) or 0
    written = as_int(u.get("cache_creation_input_tokens")) or 0
    return Usage(
        input_tokens=(as_int(u.get("input_tokens")) or 0) + read + written,
        output_tokens=as_int(u.get("output_tokens")) or 0,
        cached_tokens=read,
    )


def _apply(container: dict[str, Any], key: str, fn: Callable[[str], str]) -> bool:
    value = container.get(key)
    if isinstance(value, str):
        new = fn(value)
        if new != value:
            container[key] = new
            return True
    return False


def _rewrite_leaves(node: Any, fn: Callable[[str], str]) -> None:
    """Apply `fn` to every string leaf of a JSON value in place (tool_use input)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, str):
                node[k] = fn(v)
            else:
                _rewrite_leaves(v, fn)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            if isinstance(v, str):
                node[i] = fn(v)
            else:
                _rewrite_leaves(v, fn)


class MessagesStream(StreamHandler):
    """Anthropic named events. Channel "block:{index}" for text and tool-input JSON deltas."""

    def __init__(self, text_filter: TextFilter, drop_usage_chunk: bool = False) -> None:
        super().__init__(text_filter, drop_usage_chunk)
        self._open: dict[int, str] = {}  # block index -> delta type fed on it
        self._input: dict[str, int] = {}
        self._output = 0

    def on_event(self, ev: SseEvent) -> list[SseEvent]:
        obj = parse_json_event(ev)
        if not isinstance(obj, dict):
            return [ev]
        etype = obj.get("type") if isinstance(obj.get("type"), str) else ev.event
        if etype == "content_block_delta":
            return self._on_delta(ev, obj)
        if etype == "content_block_stop":
            index = as_int(obj.get("index"))
            return (self._flush(index) if index is not None else []) + [ev]
        if etype == "message_start":
            msg = obj.get("message")
            if isinstance(msg, dict):
                if isinstance(msg.get("model"), str):
                    self.model = msg["model"]
                self._count(msg.get("usage"))
        elif etype == "message_delta":
            self._count(obj.get("usage"))
        elif etype == "message_stop" or etype == "error":
            return self.on_end() + [ev]
        return [ev]

    def on_end(self) -> list[SseEvent]:
        out: list[SseEvent] = []
        for index in list(self._open):
            out.extend(self._flush(index))
        return out

    def _count(self, usage: Any) -> None:
        """Usage values are cumulative: the latest value of each field wins, nothing is summed."""
        if not isinstance(usage, dict):
            return
        for key in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            value = as_int(usage.get(key))
            if value is not None:
                self._input[key] = value
        output = as_int(usage.get("output_tokens"))
        if output is not None:
            self._output = output
        self.usage = anthropic_usage({**self._input, "output_tokens": self._output})

    def _on_delta(self, ev: SseEvent, obj: dict[str, Any]) -> list[SseEvent]:
        delta = obj.get("delta")
        index = as_int(obj.get("index"))
        if not isinstance(delta, dict) or index is None:
            return [ev]
        dtype = delta.get("type")
        if not isinstance(dtype, str) or dtype not in ("text_delta", "input_json_delta"):
            return [ev]  # thinking, signature and citation deltas pass untouched
        field = "text" if dtype == "text_delta" else "partial_json"
        text = delta.get(field)
        if not isinstance(text, str) or not text:
            return [ev]
        self._open[index] = dtype
        new = self.filter.feed(f"block:{index}", text)
        if new != text:
            delta[field] = new
            set_json_data(ev, obj)
        return [ev]

    def _flush(self, index: int) -> list[SseEvent]:
        dtype = self._open.pop(index, None)
        if dtype is None:
            return []
        text = self.filter.flush(f"block:{index}")
        if not text:
            return []
        field = "text" if dtype == "text_delta" else "partial_json"
        payload = {"type": "content_block_delta", "index": index, "delta": {"type": dtype, field: text}}
        return [json_event(payload, event="content_block_delta")]


def anthropic_error_body(status: int, message: str) -> bytes:
    """`{"type":"error","error":{"type":..,"message":..}}` as the Anthropic SDKs parse it."""
    etype = _ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    return json.dumps({"type": "error", "error": {"type": etype, "message": message}}).encode()


def anthropic_stream_error(message: str, code: str = "") -> SseEvent:
    """`event: error`, which the Anthropic SDKs raise as an APIStatusError mid-stream."""
    etype = code if code in ERROR_TYPE_NAMES else "api_error"
    return json_event({"type": "error", "error": {"type": etype, "message": message}}, event="error")


class AnthropicAdapter(ProviderAdapter):
    """api.anthropic.com (and Anthropic-shaped gateways such as Copilot's /v1/messages)."""

    name = "anthropic"
    default_upstream: ClassVar[str | None] = "https://api.anthropic.com"

    def parse(self, method: str, path: str, query: MutableMapping[str, str], body: Any) -> RequestInfo | None:
        path = path.rstrip("/") or "/"
        if path != "/v1" and not path.startswith("/v1/"):
            return None
        endpoint = ENDPOINT_PATHS.get(path) if method.upper() == "POST" else None
        if endpoint is None:
            return generic_request(method, body)
        return self.describe(endpoint, body)

    def describe(self, endpoint: str, body: Any) -> RequestInfo:
        """Validate and describe a messages or count_tokens body."""
        body = require_object(body)
        segments = messages_segments(body)
        max_tokens = as_int(body.get("max_tokens"))
        if endpoint == "messages" and max_tokens is None:
            raise ValueError("max_tokens: field required (an integer)")
        model = body.get("model")
        return RequestInfo(
            endpoint=endpoint,
            model=model if isinstance(model, str) else "",
            stream=endpoint == "messages" and body.get("stream") is True,
            max_tokens=max_tokens,
            segments=segments,
        )

    def usage_from_body(self, endpoint: str, body: Any) -> Usage | None:
        if endpoint != "messages" or not isinstance(body, dict):
            return None
        return anthropic_usage(body.get("usage"))

    def rewrite_response(self, endpoint: str, body: Any, fn: Callable[[str], str]) -> None:
        if endpoint != "messages" or not isinstance(body, dict) or not isinstance(body.get("content"), list):
            return
        for block in body["content"]:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                _apply(block, "text", fn)
            elif block.get("type") in ("tool_use", "server_tool_use"):
                _rewrite_leaves(block.get("input"), fn)

    def stream_handler(self, endpoint: str, text_filter: TextFilter, drop_usage_chunk: bool) -> StreamHandler:
        if endpoint == "messages":
            return MessagesStream(text_filter, drop_usage_chunk)
        return PassThroughStream(text_filter, drop_usage_chunk)

    def set_max_tokens(self, endpoint: str, body: Any, limit: int) -> None:
        if endpoint == "messages" and isinstance(body, dict):
            body["max_tokens"] = cap(body.get("max_tokens"), limit)

    def error_body(self, status: int, message: str, code: str = "") -> bytes:
        return anthropic_error_body(status, message)

    def stream_error_event(self, message: str, code: str = "") -> SseEvent:
        return anthropic_stream_error(message, code)

    def client_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str]) -> str | None:
        return header_get(headers, "x-api-key") or bearer_token(headers)

    def set_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str], key: str) -> None:
        """Write the key in the form the client used: Bearer if it sent only Bearer, else x-api-key."""
        if header_get(headers, "x-api-key") is None and bearer_token(headers) is not None:
            header_set(headers, "Authorization", f"Bearer {key}")
        else:
            header_del(headers, "Authorization")
            header_set(headers, "x-api-key", key)
