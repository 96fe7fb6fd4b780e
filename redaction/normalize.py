"""Undo cheap evasions before scanning, keeping a map back to the original offsets.

Zero-width characters are dropped and JSON (``\\u0041``) / URL (``%41``) escapes decoded, so a
secret split by a zero-width space or written as escapes is still one token to the detectors.
Spans found in the normalised text are mapped back so that they index the ORIGINAL text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Zero-width and invisible formatting characters people (or tools) use to break up tokens.
_ZERO_WIDTH = "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"
_NEEDS_WORK = re.compile(
    "[" + _ZERO_WIDTH + r"]|\\u[0-9a-fA-F]{4}|%[0-9a-fA-F]{2}"
)


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalised text plus, when it differs from the original, per-character origin offsets."""

    text: str
    # starts[i] / ends[i]: the original span that produced normalised character i; None = identity
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised span [start, end) to the original text."""
        if self.starts is None or self.ends is None:
            return start, end
        if end <= start:
            pos = self.starts[start] if start < len(self.starts) else (self.ends[-1] if self.ends else 0)
            return pos, pos
        return self.starts[start], self.ends[end - 1]


def _decode_escape(seq: str) -> str | None:
    """Decode one escape; None when it would not be a printable character worth decoding."""
    code = int(seq[2:], 16) if seq.startswith("\\u") else int(seq[1:], 16)
    ch = chr(code)
    # Only decode printable characters: decoding %0A or \u0000 would invent line structure.
    if ch.isprintable() and not (0xD800 <= code <= 0xDFFF):
        return ch
    return None


def normalize(text: str) -> Normalized:
    """Return `text` without zero-width characters and with JSON/URL escapes decoded."""
    if _NEEDS_WORK.search(text) is None:
        return Normalized(text)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _NEEDS_WORK.finditer(text):
        s, e = m.start(), m.end()
        for i in range(pos, s):
            out.append(text[i])
            starts.append(i)
            ends.append(i + 1)
        seq = m.group()
        if len(seq) == 1:  # zero-width: dropped
            pos = e
            continue
        ch = _decode_escape(seq)
        if ch is None:
            for i in range(s, e):
                out.append(text[i])
                starts.append(i)
                ends.append(i + 1)
        else:
            out.append(ch)
            starts.append(s)
            ends.append(e)
        pos = e
    for i in range(pos, len(text)):
        out.append(text[i])
        starts.append(i)
        ends.append(i + 1)
    return Normalized("".join(out), tuple(starts), tuple(ends))
