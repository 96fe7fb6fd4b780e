"""The streamed-response transform: SSE events pass through one by one, placeholders restored.

mitmproxy calls the transform with each received chunk and once with b"" at the end. Returning
b"" mid-stream would end an HTTP/1.1 chunked response early, so "nothing yet" is an empty list.
"""
from __future__ import annotations

from collections.abc import Callable

from proxy.providers.base import SseEvent, StreamHandler, parse_sse_event
from redaction import StreamRestorer, Vault


class VaultTextFilter:
    """TextFilter over one placeholder vault: a StreamRestorer per channel.

    It also keeps the upstream text as received (placeholders intact, i.e. redacted) for the
    audit record, bounded so a runaway stream cannot grow memory without limit.
    """

    def __init__(self, vault: Vault, keep_chars: int = 1 << 20) -> None:
        self.vault = vault
        self._restorers: dict[str, StreamRestorer] = {}
        self._kept: list[str] = []
        self._kept_len = 0
        self._keep_chars = keep_chars

    def _keep(self, text: str) -> None:
        if self._kept_len < self._keep_chars:
            self._kept.append(text)
            self._kept_len += len(text)

    def feed(self, channel: str, text: str) -> str:
        self._keep(text)
        restorer = self._restorers.get(channel)
        if restorer is None:
            restorer = self._restorers[channel] = StreamRestorer(self.vault)
        return restorer.feed(text)

    def flush(self, channel: str) -> str:
        restorer = self._restorers.pop(channel, None)
        return restorer.flush() if restorer else ""

    def full(self, text: str) -> str:
        return self.vault.restore(text)

    def redacted_text(self) -> str:
        return "".join(self._kept)[: self._keep_chars]


class SseTransform:
    """The callable set as `flow.response.stream` for event-stream responses."""

    def __init__(self, handler: StreamHandler, on_first_chunk: Callable[[], None] | None = None) -> None:
        self.handler = handler
        self._buf = b""
        self._on_first_chunk = on_first_chunk
        self.events = 0

    def __call__(self, chunk: bytes) -> list[bytes]:
        if self._on_first_chunk is not None:
            self._on_first_chunk()
            self._on_first_chunk = None
        if not chunk:  # end of message: whatever is buffered, then what the handler still holds
            out: list[SseEvent] = []
            if self._buf.strip():
                out.extend(self._handle(self._buf.rstrip(b"\r\n")))
            self._buf = b""
            out.extend(self.handler.on_end())
            return [ev.encode() for ev in out]
        self._buf += chunk
        if b"\r" in self._buf:  # SSE allows CRLF line ends; normalise so one splitter serves all
            self._buf = self._buf.replace(b"\r\n", b"\n")
        *blocks, self._buf = self._buf.split(b"\n\n")
        out_bytes: list[bytes] = []
        for block in blocks:
            if block.strip():
                out_bytes.extend(ev.encode() for ev in self._handle(block))
        return out_bytes

    def _handle(self, block: bytes) -> list[SseEvent]:
        self.events += 1
        return self.handler.on_event(parse_sse_event(block))
