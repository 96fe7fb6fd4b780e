"""The contract every provider adapter fulfils: one wire format, its text, usage and errors.

An adapter is pure: it sees parsed JSON bodies, header mappings and SSE events, never sockets
or mitmproxy objects, so it is unit-testable on its own. Adding a provider touches one file in
this package plus its tests.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from proxy.exchange import JsonPath, Segment, Usage

# ---------------------------------------------------------------------------------------------
# Server-sent events


@dataclass(slots=True)
class SseEvent:
    """One SSE event. `raw` is the exact bytes received (terminator included) when unmodified."""

    data: str = ""
    event: str | None = None
    id: str | None = None
    raw: bytes | None = None

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        out = []
        if self.event is not None:
            out.append(f"event: {self.event}\n")
        if self.id is not None:
            out.append(f"id: {self.id}\n")
        for line in self.data.split("\n"):
            out.append(f"data: {line}\n")
        out.append("\n")
        return "".join(out).encode()

    def replace_data(self, data: str) -> None:
        """Set new data; the event is then re-encoded instead of passed through as received."""
        self.data = data
        self.raw = None


def parse_sse_event(block: bytes) -> SseEvent:
    """Parse one event block (without its blank-line terminator) into an SseEvent."""
    ev = SseEvent(raw=block + b"\n\n")
    data_lines: list[str] = []
    for line in block.decode("utf-8", "replace").splitlines():
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data_lines.append(value)
        elif name == "event":
            ev.event = value
        elif name == "id":
            ev.id = value
    ev.data = "\n".join(data_lines)
    return ev


class TextFilter(Protocol):
    """What the pipeline gives a stream handler: restores placeholders in streamed text.

    `feed` returns the part of `text` that can be emitted now (a possible partial placeholder
    is held back); `flush` returns whatever is held for a channel when that channel ends;
    `full` transforms a complete text (e.g. a `.done` event that repeats the whole output).
    Channels are adapter-chosen keys such as "choice:0" or "block:1".
    """

    def feed(self, channel: str, text: str) -> str: ...
    def flush(self, channel: str) -> str: ...
    def full(self, text: str) -> str: ...


class StreamHandler(ABC):
    """Transforms one provider stream event by event and collects usage as it passes."""

    def __init__(self, text_filter: TextFilter, drop_usage_chunk: bool = False) -> None:
        self.filter = text_filter
        # True when the proxy added a usage request the client did not ask for: the extra
        # usage-only event must then be swallowed, not passed to the client.
        self.drop_usage_chunk = drop_usage_chunk
        self.usage: Usage | None = None
        self.model: str = ""

    @abstractmethod
    def on_event(self, ev: SseEvent) -> list[SseEvent]:
        """Return the events to send to the client in place of `ev` (may be empty)."""

    def on_end(self) -> list[SseEvent]:
        """Called once at end of stream: emit anything still held back (default: nothing)."""
        return []


# ---------------------------------------------------------------------------------------------
# Adapters


@dataclass(slots=True)
class RequestInfo:
    """What the pipeline needs to know about one parsed request."""

    endpoint: str  # chat | responses | completions | embeddings | messages | generate | fim | count_tokens | other
    model: str = ""
    stream: bool = False
    max_tokens: int | None = None
    segments: list[Segment] = field(default_factory=list)
    scan_required: bool = True  # False only for endpoints that carry no prompt text (GET /models)
    repo: str | None = None  # e.g. Copilot's `nwo`
    file_paths: list[str] = field(default_factory=list)  # paths named in the prompt (Copilot "# path:")


class ProviderAdapter(ABC):
    """One wire format. Subclasses set `name` and implement the abstract methods."""

    name: ClassVar[str]
    # The endpoint kinds whose responses stream as SSE when the request asks for it.
    default_upstream: ClassVar[str | None] = None

    @abstractmethod
    def parse(self, method: str, path: str, query: MutableMapping[str, str], body: Any) -> RequestInfo | None:
        """Describe the request, or None if this path is not one of this provider's AI endpoints.

        `path` is the upstream path (gateway prefix already stripped), without the query.
        `body` is the parsed JSON (None for bodiless requests). Raise ValueError with a
        client-facing message when the body is not a valid request of this endpoint.
        """

    def write_segments(self, body: Any, segments: list[Segment]) -> None:
        """Write (masked) segment texts back into the body at their paths."""
        for seg in segments:
            set_at(body, seg.path, seg.text)

    @abstractmethod
    def usage_from_body(self, endpoint: str, body: Any) -> Usage | None:
        """Usage from a non-streamed response body, if reported."""

    @abstractmethod
    def rewrite_response(self, endpoint: str, body: Any, fn: Callable[[str], str]) -> None:
        """Apply `fn` to every model-written text field of a non-streamed response, in place."""

    @abstractmethod
    def stream_handler(self, endpoint: str, text_filter: TextFilter, drop_usage_chunk: bool) -> StreamHandler:
        """A fresh handler for one streamed response of `endpoint`."""

    def ensure_stream_usage(self, endpoint: str, body: Any) -> bool:
        """Ask the upstream to report usage in the stream; True if the body was changed."""
        return False

    def set_max_tokens(self, endpoint: str, body: Any, limit: int) -> None:
        """Cap the output tokens, using whichever field the client used (or the current one)."""

    @abstractmethod
    def error_body(self, status: int, message: str, code: str = "") -> bytes:
        """A JSON error body in this provider's own format."""

    def stream_error_event(self, message: str, code: str = "") -> SseEvent:
        """An SSE event that makes this provider's SDKs raise mid-stream (default: OpenAI shape)."""
        import json

        return SseEvent(data=json.dumps({"error": {"message": message, "type": "api_error", "code": code or None}}))

    def error_body_for(self, endpoint: str, status: int, message: str, code: str = "") -> bytes:
        """The error body for a request of `endpoint` (default: `error_body`).

        Adapters that speak several wire formats (Copilot relays both OpenAI and Anthropic
        requests) override this to answer in the format of that endpoint's SDK.
        """
        return self.error_body(status, message, code)

    def stream_error_event_for(self, endpoint: str, message: str, code: str = "") -> SseEvent:
        """The mid-stream error event for a stream of `endpoint` (default: `stream_error_event`)."""
        return self.stream_error_event(message, code)

    # Credentials ------------------------------------------------------------------------

    @abstractmethod
    def client_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str]) -> str | None:
        """The key the client sent (a Customs virtual key on the gateway), if any."""

    @abstractmethod
    def set_credential(self, headers: MutableMapping[str, str], query: MutableMapping[str, str], key: str) -> None:
        """Replace the client's credential with the real provider key, removing the virtual one."""


# ---------------------------------------------------------------------------------------------
# JSON helpers shared by adapters


def set_at(body: Any, path: JsonPath, value: Any) -> None:
    """Set the value at a JSON locator path inside a parsed body."""
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def get_at(body: Any, path: JsonPath) -> Any:
    node = body
    for key in path:
        node = node[key]
    return node


def string_leaves(node: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, str]]:
    """Every string inside a JSON value with its path (for tool inputs and other free-form JSON)."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from string_leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from string_leaves(v, path + (i,))


def text_leaves(node: Any, path: JsonPath = (), skip_keys: frozenset[str] = frozenset()) -> Iterator[tuple[JsonPath, str]]:
    """String leaves of free-form JSON except under `skip_keys` and inline base64 data URLs.

    The fallback for item/block types an adapter does not know: scanning their strings keeps
    the "nothing unscanned" rule without touching ids, signatures or binary payloads.
    """
    if isinstance(node, str):
        if not node.startswith("data:"):
            yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            if k not in skip_keys:
                yield from text_leaves(v, path + (k,), skip_keys)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from text_leaves(v, path + (i,), skip_keys)


def parse_json_event(ev: SseEvent) -> Any:
    """The JSON object carried by an SSE event, or None when it is empty or not JSON."""
    import json

    data = ev.data.strip()
    if not data or data[0] not in "{[":
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def json_event(obj: Any, event: str | None = None) -> SseEvent:
    """A new SSE event carrying `obj` as compact JSON (the providers' own encoding)."""
    import json

    return SseEvent(data=json.dumps(obj, ensure_ascii=False, separators=(",", ":")), event=event)


def set_json_data(ev: SseEvent, obj: Any) -> None:
    """Re-encode an event whose JSON payload was changed."""
    import json

    ev.replace_data(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


# ---------------------------------------------------------------------------------------------
# Header helpers: adapters see plain mappings (tests) or mitmproxy's case-insensitive Headers.


def _case_insensitive(headers: MutableMapping[str, str]) -> bool:
    # mitmproxy's Headers (which has get_all) already matches names case-insensitively;
    # scanning its keys on every call would cost more than the whole adapter step.
    return hasattr(headers, "get_all")


def header_get(headers: MutableMapping[str, str], name: str) -> str | None:
    """A header's value, matched case-insensitively."""
    if _case_insensitive(headers):
        return headers.get(name)
    lname = name.lower()
    for k in list(headers.keys()):
        if k.lower() == lname:
            return headers[k]
    return None


def header_set(headers: MutableMapping[str, str], name: str, value: str) -> None:
    """Set a header, replacing any differently-cased copy."""
    if _case_insensitive(headers):
        headers[name] = value
        return
    header_del(headers, name)
    headers[name] = value


def header_del(headers: MutableMapping[str, str], name: str) -> None:
    """Remove every copy of a header, matched case-insensitively."""
    if _case_insensitive(headers):
        headers.pop(name, None)
        return
    lname = name.lower()
    for k in [k for k in list(headers.keys()) if k.lower() == lname]:
        if k in headers:
            del headers[k]


def bearer_token(headers: MutableMapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    value = header_get(headers, "authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class PassThroughStream(StreamHandler):
    """A stream the adapter does not understand: events pass unchanged, no usage is read."""

    def on_event(self, ev: SseEvent) -> list[SseEvent]:
        return [ev]


def as_int(value: Any) -> int | None:
    """An integer JSON value (booleans excluded), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def require_object(body: Any) -> dict[str, Any]:
    """The body as a JSON object, or a ValueError a client can act on."""
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    return body


def cap(current: Any, limit: int) -> int:
    """The lower of the client's own limit (if an integer) and the policy's."""
    value = as_int(current)
    return limit if value is None else min(value, limit)
