"""Decisions remembered per policy input: Copilot asks the same question on every keystroke.

A Rego evaluation costs milliseconds; the same principal, model, host and finding counts give
the same Decision until the policy changes. The key is the input without the fields that change
on every request and that no rule reads (checked against the policy sources at each revision),
plus the policy revision, so an edited policy is never answered from an older one.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson

from proxy.decision import Decision
from proxy.policy import PolicyEngine

# (section, field) pairs that vary per request; dropped from the key unless a rule reads them.
VOLATILE = (("", "now"), ("request", "estimated_input_tokens"), ("request", "client"))


def _reads(sources: list[str], section: str, name: str) -> bool:
    ref = f"input.{section}.{name}" if section else f"input.{name}"
    return any(ref in src for src in sources)


class CachedPolicy:
    """A PolicyEngine in front of another one, with a bounded LRU of decisions."""

    def __init__(self, engine: PolicyEngine, policy_dir: Path, max_entries: int = 4096) -> None:
        self.engine = engine
        self.policy_dir = policy_dir
        self.max_entries = max_entries
        self._cache: OrderedDict[bytes, Decision] = OrderedDict()
        self._dropped_for: str = ""
        self._drop: tuple[tuple[str, str], ...] = ()
        self.hits = 0
        self.misses = 0

    @property
    def revision(self) -> str:
        return self.engine.revision

    def _volatile(self) -> tuple[tuple[str, str], ...]:
        if self._dropped_for != self.engine.revision:
            sources = [p.read_text(encoding="utf-8") for p in self.policy_dir.rglob("*.rego")
                       if not p.name.endswith("_test.rego")]
            self._drop = tuple(v for v in VOLATILE if not _reads(sources, *v))
            self._dropped_for = self.engine.revision
            self._cache.clear()
        return self._drop

    def key(self, input: dict[str, Any]) -> bytes:
        reduced = dict(input)
        for section, name in self._volatile():
            if section:
                if isinstance(reduced.get(section), dict):
                    reduced[section] = {k: v for k, v in reduced[section].items() if k != name}
            else:
                reduced.pop(name, None)
        return self.engine.revision.encode() + orjson.dumps(reduced, option=orjson.OPT_SORT_KEYS, default=str)

    def decide(self, input: dict[str, Any]) -> Decision:
        reload = getattr(self.engine, "reload", None)
        if reload is not None:
            reload()  # cheap: looks at the files at most every reload interval
        key = self.key(input)
        decision = self._cache.get(key)
        if decision is not None:
            self._cache.move_to_end(key)
            self.hits += 1
            return decision
        self.misses += 1
        decision = self.engine.decide(input)
        self._cache[key] = decision
        if len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return decision

    def close(self) -> None:
        self.engine.close()
