"""Placeholders for masked values: typed, numbered, stable per scope within a TTL, memory only."""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from .findings import Finding

_PREFIX = {"secret": "SECRET", "pii": "PII", "license": "LICENSE"}
PLACEHOLDER = re.compile(r"\[(?:SECRET|PII|LICENSE)_[A-Z0-9_]+_\d+\]")
_PARTIAL_BODY = re.compile(r"[A-Z0-9_]*")
_STARTS = ("[SECRET_", "[PII_", "[LICENSE_")
# Longest placeholder we hold back for when streaming; longer tails cannot be one.
MAX_PLACEHOLDER_LEN = 96


def type_token(type_: str) -> str:
    """Upper-snake form of a finding type for use inside a placeholder."""
    return re.sub(r"[^A-Z0-9]+", "_", type_.upper()).strip("_") or "VALUE"


@dataclass(slots=True)
class _Entry:
    placeholder: str
    value: str
    expires: float


class Vault:
    """Value <-> placeholder map for one scope (a principal). Never exposes values in repr."""

    def __init__(self, ttl_seconds: float = 3600, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._by_value: OrderedDict[str, _Entry] = OrderedDict()
        self._by_placeholder: dict[str, _Entry] = {}
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Vault(entries={len(self._by_value)}, ttl_seconds={self.ttl_seconds})"

    def __len__(self) -> int:
        return len(self._by_value)

    def placeholder(self, finding: Finding, value: str) -> str:
        """The placeholder for `value` (the same one while it stays in use), e.g. [SECRET_JWT_1]."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            entry = self._by_value.get(value)
            if entry is not None:
                entry.expires = now + self.ttl_seconds
                self._by_value.move_to_end(value)
                return entry.placeholder
            label = f"{_PREFIX.get(finding.kind, 'SECRET')}_{type_token(finding.type)}"
            # Numbers are never reused, so a stale placeholder can never restore to a new value.
            n = self._counters.get(label, 0) + 1
            self._counters[label] = n
            entry = _Entry(f"[{label}_{n}]", value, now + self.ttl_seconds)
            self._by_value[value] = entry
            self._by_placeholder[entry.placeholder] = entry
            while len(self._by_value) > self.max_entries:
                _, old = self._by_value.popitem(last=False)
                self._by_placeholder.pop(old.placeholder, None)
            return entry.placeholder

    def restore(self, text: str) -> str:
        """`text` with every known placeholder replaced by its value; unknown ones stay as they are."""
        if "[" not in text:
            return text
        now = self._clock()
        with self._lock:
            self._expire(now)
            table = self._by_placeholder
            if not table:
                return text
            return PLACEHOLDER.sub(lambda m: table[m.group()].value if m.group() in table else m.group(), text)

    def could_be_partial(self, tail: str) -> int:
        """How many trailing characters of `tail` may be the start of a placeholder."""
        i = tail.rfind("[", max(0, len(tail) - MAX_PLACEHOLDER_LEN))
        if i < 0:
            return 0
        cand = tail[i:]
        for start in _STARTS:
            if start.startswith(cand):
                return len(cand)
            if cand.startswith(start) and _PARTIAL_BODY.fullmatch(cand, len(start)):
                return len(cand)
        return 0

    def _expire(self, now: float) -> None:
        # Entries are in last-use order, so expired ones sit at the front.
        while self._by_value:
            value, entry = next(iter(self._by_value.items()))
            if entry.expires > now:
                break
            del self._by_value[value]
            self._by_placeholder.pop(entry.placeholder, None)


class VaultStore:
    """Bounded, TTL'd map scope -> Vault: idle scopes expire, the least recently used go first."""

    def __init__(self, ttl_seconds: float = 3600, max_scopes: int = 10_000, max_entries_per_scope: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_scopes = max_scopes
        self.max_entries_per_scope = max_entries_per_scope
        self._clock = clock
        self._scopes: OrderedDict[str, tuple[Vault, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VaultStore(scopes={len(self._scopes)}, max_scopes={self.max_scopes})"

    def __len__(self) -> int:
        return len(self._scopes)

    def get(self, scope: str) -> Vault:
        """The Vault for `scope`, created on first use; using it keeps it alive for another TTL."""
        now = self._clock()
        with self._lock:
            while self._scopes:
                key, (_, expires) = next(iter(self._scopes.items()))
                if expires > now:
                    break
                del self._scopes[key]
            item = self._scopes.get(scope)
            if item is None:
                vault = Vault(self.ttl_seconds, self.max_entries_per_scope, clock=self._clock)
            else:
                vault = item[0]
            self._scopes[scope] = (vault, now + self.ttl_seconds)
            self._scopes.move_to_end(scope)
            while len(self._scopes) > self.max_scopes:
                self._scopes.popitem(last=False)
            return vault
