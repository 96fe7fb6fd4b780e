"""Budget limits as policy data: who they apply to, over which window, in tokens and/or USD.

A rule applies to one scope (user, team, virtual key, or all traffic) and is always counted
per subject: `match: "*"` gives every user their own allowance, `match: payments` is the
payments team's. `model`/`provider` globs narrow a rule to some traffic. Where several rules
share a scope, window and model/provider filter, the most specific `match` wins, so
`{scope: user, match: alice, usd: 200}` replaces the `match: "*"` default for alice.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

from proxy.budgets.prices import NANO_PER_USD
from proxy.budgets.windows import WINDOWS

SCOPES = ("user", "team", "key", "global")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_FIELDS = {"name", "scope", "match", "window", "tokens", "usd", "model", "provider"}


def _is_glob(s: str) -> bool:
    return any(c in s for c in "*?[")


@dataclass(frozen=True, slots=True)
class BudgetRule:
    """One entry of budgets.yaml."""

    name: str
    scope: str
    match: str = "*"
    window: str = "daily"
    tokens: int | None = None
    usd: float | None = None
    model: str = "*"
    provider: str = "*"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """Validate one rule; errors name the rule so a reviewer can find it."""
        if not isinstance(d, dict):
            raise ValueError(f"budget entry must be a mapping, got {d!r}")
        name = str(d.get("name", ""))
        if not _NAME.match(name):
            raise ValueError(f"budget name {name!r} must be 1-128 of [A-Za-z0-9_.:-]")
        unknown = set(d) - _FIELDS
        if unknown:
            raise ValueError(f"budget {name}: unknown field(s) {sorted(unknown)}")
        scope = str(d.get("scope", ""))
        if scope not in SCOPES:
            raise ValueError(f"budget {name}: scope must be one of {SCOPES}, not {scope!r}")
        window = str(d.get("window", "daily"))
        if window not in WINDOWS:
            raise ValueError(f"budget {name}: window must be one of {WINDOWS}, not {window!r}")
        tokens, usd = d.get("tokens"), d.get("usd")
        if tokens is None and usd is None:
            raise ValueError(f"budget {name}: set tokens and/or usd")
        if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0):
            raise ValueError(f"budget {name}: tokens must be a non-negative integer")
        if usd is not None and (isinstance(usd, bool) or not isinstance(usd, int | float) or usd < 0):
            raise ValueError(f"budget {name}: usd must be a non-negative number")
        match = "*" if scope == "global" else str(d.get("match", "*"))
        if not match:
            raise ValueError(f"budget {name}: match must not be empty (use \"*\")")
        return cls(name=name, scope=scope, match=match, window=window,
                   tokens=tokens, usd=None if usd is None else float(usd),
                   model=str(d.get("model", "*")), provider=str(d.get("provider", "*")))

    @property
    def limit_nano(self) -> int | None:
        """The USD limit in nano-dollars (the ledger's unit)."""
        return None if self.usd is None else round(self.usd * NANO_PER_USD)

    @property
    def specificity(self) -> int:
        """2 for an exact match, 1 for a narrower glob, 0 for `*`."""
        if self.match == "*":
            return 0
        return 1 if _is_glob(self.match) else 2

    @property
    def slot(self) -> tuple[str, str, str, str]:
        """Rules in one slot compete: only the most specific matching one applies."""
        return (self.scope, self.window, self.model, self.provider)

    def describe(self, subject: str, unit: str) -> str:
        """Human name of a budget instance, e.g. 'team:payments daily tokens'."""
        where = "all" if self.scope == "global" else f"{self.scope}:{subject}"
        narrow = "".join(f" {k}={v}" for k, v in (("model", self.model), ("provider", self.provider)) if v != "*")
        return f"{where}{narrow} {self.window} {unit}"


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a request is charged as, at each scope."""

    user: str
    team: str
    key_id: str
    provider: str
    model: str

    def at(self, scope: str) -> str:
        if scope == "global":
            return "*"
        return {"user": self.user, "team": self.team, "key": self.key_id}[scope]


@dataclass(slots=True)
class BudgetLimits:
    """Every budget rule, with a bounded cache of which rules apply to whom."""

    rules: tuple[BudgetRule, ...] = ()
    _cache: dict[Subject, tuple[tuple[BudgetRule, str], ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for r in self.rules:
            if r.name in seen:
                raise ValueError(f"budget name {r.name!r} is used twice")
            seen.add(r.name)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Self:
        """Parse `{budgets: [rule, ...]}`."""
        d = d or {}
        if not isinstance(d, dict):
            raise ValueError("budgets file must be a mapping with a `budgets` list")
        raw = d.get("budgets") or []
        if not isinstance(raw, list):
            raise ValueError("`budgets` must be a list")
        return cls(tuple(BudgetRule.from_dict(x) for x in raw))

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read budgets.yaml; a missing file means no budgets."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        return cls.from_dict(yaml.safe_load(text))

    def by_name(self, name: str) -> BudgetRule | None:
        return next((r for r in self.rules if r.name == name), None)

    def applicable(self, who: Subject) -> tuple[tuple[BudgetRule, str], ...]:
        """The rules that charge this request, each with the subject its counter is kept for."""
        hit = self._cache.get(who)
        if hit is not None:
            return hit
        matched: list[tuple[BudgetRule, str]] = []
        for r in self.rules:
            subject = who.at(r.scope)
            if not subject:
                continue  # e.g. no team: team budgets cannot apply
            if r.match != "*" and not fnmatch.fnmatchcase(subject, r.match):
                continue
            if r.model != "*" and not fnmatch.fnmatchcase(who.model, r.model):
                continue
            if r.provider != "*" and not fnmatch.fnmatchcase(who.provider, r.provider):
                continue
            matched.append((r, subject))
        best: dict[tuple[str, str, str, str], int] = {}
        for r, _ in matched:
            best[r.slot] = max(best.get(r.slot, -1), r.specificity)
        result = tuple((r, s) for r, s in matched if r.specificity == best[r.slot])
        if len(self._cache) >= 4096:  # bounded: subjects come from traffic
            self._cache.clear()
        self._cache[who] = result
        return result
