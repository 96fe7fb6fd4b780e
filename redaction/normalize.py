"""Undo cheap evasions before scanning, keeping a map back to the original offsets.

Zero-width characters are dropped and JSON (``\\u0041``) / URL (``%41``) escapes decoded, so a
secret split by a zero-width space or written as escapes is still one token to the detectors.
Spans found in the normalised text are mapped back so that they index the ORIGINAL text.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

# Zero-width and invisible formatting characters people (or tools) use to break up tokens.
_ZERO_WIDTH = "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"
_NEEDS_WORK = re.compile("[" + _ZERO_WIDTH + r"]|\\u[0-9a-fA-F]{4}|%[0-9a-fA-F]{2}")


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalised text plus the edits that produced it (empty when nothing changed).

    `edits` holds (normalised position, original start, original end) for every decoded
    escape (one normalised character) or dropped character (zero normalised characters),
    in order; between edits both texts advance together.
    """

    text: str
    edits: tuple[tuple[int, int, int], ...] = ()
    keys: tuple[int, ...] = ()  # edits' normalised positions, for bisect

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised span [start, end) to the original text."""
        if not self.edits:
            return start, end
        if end <= start:
            pos = self._start(start)
            return pos, pos
        return self._start(start), self._start(end - 1) + self._width(end - 1)

    def _last(self, pos: int) -> int:
        return bisect.bisect_right(self.keys, pos) - 1

    def _start(self, pos: int) -> int:
        """Original index of the character at normalised `pos`."""
        i = self._last(pos)
        if i < 0:
            return pos
        npos, ostart, oend = self.edits[i]
        if oend - ostart > 1:  # decoded escape: produced one character at npos
            return ostart if npos == pos else oend + (pos - npos - 1)
        return oend + (pos - npos)  # dropped character(s) just before pos

    def _width(self, pos: int) -> int:
        i = self._last(pos)
        if i >= 0:
            npos, ostart, oend = self.edits[i]
            if npos == pos and oend - ostart > 1:
                return oend - ostart
        return 1


def _decode_escape(seq: str) -> str | None:
    """Decode one escape; None when it would not be a printable character worth decoding."""
    code = int(seq[2:], 16) if seq.startswith("\\u") else int(seq[1:], 16)
    ch = chr(code)
    # Only decode printable characters: decoding %0A or \u0000 would invent line structure.
    if ch.isprintable() and not (0xD800 <= code <= 0xDFFF):
        return ch
    return None


_ZW_ONLY = re.compile("[" + _ZERO_WIDTH + "]")
# The same three searches as byte regexes over UTF-8 (for a Hyperscan pass over many lines).
ESCAPE_ANCHORS: tuple[bytes, ...] = (
    *("".join(f"\\x{b:02x}" for b in ch.encode("utf-8")).encode() for ch in _ZERO_WIDTH),
    rb"\\u[0-9a-fA-F]{4}",
    rb"%[0-9a-fA-F]{2}",
)
_U_ESC = re.compile(r"\\u[0-9a-fA-F]{4}")
_PCT_ESC = re.compile(r"%[0-9a-fA-F]{2}")


def needs_normalizing(text: str) -> bool:
    """Cheap check: does `text` hold anything `normalize` would change?"""
    # Separate searches: each has a literal or a single class up front, which the regex engine
    # scans for quickly; the combined alternation would be tried at every position.
    return (_ZW_ONLY.search(text) is not None
            or ("\\u" in text and _U_ESC.search(text) is not None)
            or ("%" in text and _PCT_ESC.search(text) is not None))


def normalize(text: str) -> Normalized:
    """Return `text` without zero-width characters and with JSON/URL escapes decoded."""
    if _NEEDS_WORK.search(text) is None:
        return Normalized(text)
    parts: list[str] = []
    edits: list[tuple[int, int, int]] = []
    pos = 0  # original position copied up to
    npos = 0  # normalised length so far
    for m in _NEEDS_WORK.finditer(text):
        s, e = m.span()
        seq = m.group()
        repl = "" if len(seq) == 1 else _decode_escape(seq)
        if repl is None:
            continue  # left as is: part of the identity run
        parts.append(text[pos:s])
        npos += s - pos
        edits.append((npos, s, e))
        parts.append(repl)
        npos += len(repl)
        pos = e
    if not edits:
        return Normalized(text)
    parts.append(text[pos:])
    return Normalized("".join(parts), tuple(edits), tuple(e[0] for e in edits))
