"""Character statistics that tell random-looking tokens from words, ids and hashes."""
from __future__ import annotations

import string
from math import log2

try:  # the C helper behind collections.Counter, without Counter's per-call Python overhead
    from collections import _count_elements  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Python implementations
    def _count_elements(mapping: dict[str, int], iterable: str) -> None:
        for ch in iterable:
            mapping[ch] = mapping.get(ch, 0) + 1

_LOWER = frozenset(string.ascii_lowercase)
_UPPER = frozenset(string.ascii_uppercase)
_DIGITS = frozenset(string.digits)
_ALNUM = _LOWER | _UPPER | _DIGITS


def shannon_entropy(s: str) -> float:
    """Bits per character of `s` (0 for the empty string)."""
    n = len(s)
    if n == 0:
        return 0.0
    counts: dict[str, int] = {}
    _count_elements(counts, s)  # first-occurrence order, as Counter(s)
    ent = 0.0
    for count in counts.values():
        p = count / n
        ent -= p * log2(p)
    return ent


def char_classes(s: str) -> tuple[bool, bool, bool, bool]:
    """(has lower, has upper, has digit, has other) for `s` (ASCII classes)."""
    cs = set(s)
    return (not _LOWER.isdisjoint(cs), not _UPPER.isdisjoint(cs), not _DIGITS.isdisjoint(cs),
            not cs <= _ALNUM)
