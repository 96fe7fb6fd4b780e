"""The streamed-response transform: SSE events pass through one by one, placeholders restored.

mitmproxy calls the transform with each received chunk and once with b"" at the end. Returning
b"" mid-stream would end an HTTP/1.1 chunked response early, so "nothing yet" is an empty list.
"""
from __future__ import annotations

from collections import Counter

from proxy.providers.base import SseEvent, StreamHandler, parse_sse_event
from redaction import Scanner, StreamRestorer, Vault


_WHITESPACE = (" ", "\n", "\t")


class InventedSecretGuard:
    """Masks secrets that the model writes itself in its answer.

    The client's own secrets travel as placeholders and are restored after this guard runs, so
    anything it finds in upstream text was produced upstream. Its mask is not a vault
    placeholder, so it is never "restored" into a value.
    """

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner
        self.counts: Counter[str] = Counter()

    def clean(self, text: str, count: bool = True) -> str:
        if not text:
            return text
        found = [f for f in self.scanner.scan(text) if f.kind == "secret"]
        for f in sorted(found, key=lambda f: f.start, reverse=True):
            text = f"{text[:f.start]}[REDACTED_SECRET_{f.type}]{text[f.end:]}"
            if count:
                self.counts[f.type] += 1
        return text


class VaultTextFilter:
    """TextFilter for one response: guards against invented secrets, restores placeholders.

    Per channel it holds back the trailing run of non-whitespace (a token may still be growing)
    so the guard sees whole tokens, then a StreamRestorer restores placeholders. It keeps the
    guarded upstream text (placeholders intact, i.e. redacted) for the audit record, bounded.
    """

    def __init__(self, vault: Vault, guard: InventedSecretGuard, keep_chars: int = 1 << 20,
                 max_hold: int = 256) -> None:
        self.vault = vault
        self.guard = guard
        self._restorers: dict[str, StreamRestorer] = {}
        self._held: dict[str, str] = {}
        self._kept: list[str] = []
        self._kept_len = 0
        self._keep_chars = keep_chars
        self._max_hold = max_hold

    def _keep(self, text: str) -> None:
        if self._kept_len < self._keep_chars:
            self._kept.append(text)
            self._kept_len += len(text)

    def _restorer(self, channel: str) -> StreamRestorer:
        restorer = self._restorers.get(channel)
        if restorer is None:
            restorer = self._restorers[channel] = StreamRestorer(self.vault)
        return restorer

    def feed(self, channel: str, text: str) -> str:
        pending = self._held.pop(channel, "") + text
        cut = max(pending.rfind(w) for w in _WHITESPACE) + 1
        if cut == 0 and len(pending) < self._max_hold:
            self._held[channel] = pending
            return ""
        ready = pending if cut == 0 else pending[:cut]
        if cut:
            self._held[channel] = pending[cut:]
        ready = self.guard.clean(ready)
        self._keep(ready)
        return self._restorer(channel).feed(ready)

    def flush(self, channel: str) -> str:
        rest = self.guard.clean(self._held.pop(channel, ""))
        self._keep(rest)
        restorer = self._restorers.pop(channel, None) or StreamRestorer(self.vault)
        return restorer.feed(rest) + restorer.flush()

    def full(self, text: str) -> str:
        # A complete text repeated at the end (a `.done` event): already counted while streaming.
        return self.vault.restore(self.guard.clean(text, count=False))

    def redacted_text(self) -> str:
        return "".join(self._kept)[: self._keep_chars]


class SseTransform:
    """The callable set as `flow.response.stream` for event-stream responses."""

    def __init__(self, handler: StreamHandler) -> None:
        self.handler = handler
        self._buf = b""

    def __call__(self, chunk: bytes) -> list[bytes]:
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
        return self.handler.on_event(parse_sse_event(block))
