"""Character statistics that tell random-looking tokens from words, ids and hashes."""
from __future__ import annotations

import math
from collections import Counter


def shannon_entropy(s: str) -> float:
    """Bits per character of `s` (0 for the empty string)."""
    n = len(s)
    if n == 0:
        return 0.0
    ent = 0.0
    for count in Counter(s).values():
        p = count / n
        ent -= p * math.log2(p)
    return ent


def char_classes(s: str) -> tuple[bool, bool, bool, bool]:
    """(has lower, has upper, has digit, has other) for `s`."""
    lower = upper = digit = other = False
    for ch in s:
        if "a" <= ch <= "z":
            lower = True
        elif "A" <= ch <= "Z":
            upper = True
        elif "0" <= ch <= "9":
            digit = True
        else:
            other = True
    return lower, upper, digit, other
