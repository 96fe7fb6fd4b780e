"""Replace findings with vault placeholders, as policy says per finding."""
from __future__ import annotations

from typing import Callable, Sequence

from .findings import Finding
from .vault import Vault


def mask(text: str, findings: Sequence[Finding], vault: Vault, action_for: Callable[[Finding], str]) -> str:
    """`text` with every finding whose action is "mask" replaced by its placeholder.

    "keep" and "block" spans are left untouched (blocking is the caller's business).
    Overlapping findings after the first are skipped; findings need not be sorted.
    """
    parts: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.start < pos or f.end <= f.start or action_for(f) != "mask":
            continue
        parts.append(text[pos:f.start])
        parts.append(vault.placeholder(f, text[f.start:f.end]))
        pos = f.end
    if pos == 0:
        return text
    parts.append(text[pos:])
    return "".join(parts)
