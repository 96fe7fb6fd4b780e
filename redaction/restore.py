"""Restore placeholders in streamed text, holding back only what may be a split placeholder."""
from __future__ import annotations

from .vault import Vault


class StreamRestorer:
    """One per stream channel (e.g. one per choice/content block): feed decoded text deltas."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        self._pending = ""

    def __repr__(self) -> str:
        return f"StreamRestorer(pending_chars={len(self._pending)})"

    def feed(self, text: str) -> str:
        """Restored text that is safe to emit now; a possible partial placeholder is kept back."""
        buf = self._pending + text
        hold = self._vault.could_be_partial(buf)
        if hold:
            self._pending = buf[-hold:]
            buf = buf[:-hold]
        else:
            self._pending = ""
        return self._vault.restore(buf)

    def flush(self) -> str:
        """Everything still held back, restored (call at end of stream)."""
        buf, self._pending = self._pending, ""
        return self._vault.restore(buf)
