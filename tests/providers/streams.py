"""Test doubles and helpers for stream handlers: a placeholder-restoring TextFilter, SSE I/O."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from proxy.providers.base import SseEvent, StreamHandler, parse_sse_event

SECRETS = {"[SECRET_X_1]": "hunter2-prod-key", "[EMAIL_1]": "alice@example.com"}


class PlaceholderFilter:
    """Restores known placeholders and holds back a tail that may start one (like the real vault).

    It records every channel it was fed so tests can check which channels a handler used.
    """

    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping = dict(SECRETS if mapping is None else mapping)
        self.held: dict[str, str] = {}
        self.channels: list[str] = []

    def _restore(self, text: str) -> str:
        for placeholder, value in self.mapping.items():
            text = text.replace(placeholder, value)
        return text

    def feed(self, channel: str, text: str) -> str:
        if channel not in self.channels:
            self.channels.append(channel)
        buf = self.held.pop(channel, "") + text
        cut = len(buf)
        start = buf.rfind("[")
        if start != -1 and "]" not in buf[start:] and any(p.startswith(buf[start:]) for p in self.mapping):
            cut = start
        if cut < len(buf):
            self.held[channel] = buf[cut:]
        return self._restore(buf[:cut])

    def flush(self, channel: str) -> str:
        return self._restore(self.held.pop(channel, ""))

    def full(self, text: str) -> str:
        return self._restore(text)


def sse(*events: Any, event_names: bool = False) -> bytes:
    """An SSE body: dicts become `data: {json}` (with `event: <type>` if event_names), str raw data."""
    out = []
    for ev in events:
        if isinstance(ev, str):
            out.append(f"data: {ev}\n\n")
        else:
            head = f"event: {ev['type']}\n" if event_names else ""
            out.append(f"{head}data: {json.dumps(ev)}\n\n")
    return "".join(out).encode()


def blocks(body: bytes) -> list[bytes]:
    """Split an SSE body into event blocks (without their blank-line terminators)."""
    return [b for b in body.split(b"\n\n") if b.strip()]


def run(handler: StreamHandler, body: bytes, end: bool = True) -> bytes:
    """Feed every event of `body` through the handler (then on_end) and return the emitted bytes."""
    out: list[SseEvent] = []
    for block in blocks(body):
        out.extend(handler.on_event(parse_sse_event(block)))
    if end:
        out.extend(handler.on_end())
    return b"".join(ev.encode() for ev in out)


def events(body: bytes) -> list[SseEvent]:
    return [parse_sse_event(b) for b in blocks(body)]


def json_events(body: bytes) -> list[Any]:
    """The JSON payloads of an SSE body (non-JSON data such as [DONE] kept as strings)."""
    result = []
    for ev in events(body):
        try:
            result.append(json.loads(ev.data))
        except ValueError:
            result.append(ev.data)
    return result


def splits(text: str, pieces: int) -> Iterable[list[str]]:
    """Every way to cut `text` into `pieces` non-empty parts (pieces 2 or 3)."""
    n = len(text)
    if pieces == 2:
        for i in range(1, n):
            yield [text[:i], text[i:]]
    else:
        for i in range(1, n - 1):
            for j in range(i + 1, n):
                yield [text[:i], text[i:j], text[j:]]
