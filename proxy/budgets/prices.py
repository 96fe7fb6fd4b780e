"""The price table (USD per million tokens) kept with the provider data, and request costs."""
from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

log = logging.getLogger(__name__)

# Costs are kept as integer nano-dollars so that sums are exact in SQLite and in Redis
# (whose Lua numbers are doubles: exact for integers below 2**53, i.e. 9 million USD).
NANO_PER_USD = 1_000_000_000
_NANO_PER_TOKEN_PER_USD_PER_M = NANO_PER_USD / 1_000_000  # $1 per 1M tokens = 1000 n$/token


@dataclass(frozen=True, slots=True)
class Price:
    """USD per one million tokens."""

    input: float
    output: float
    cached_input: float | None = None  # None: cached tokens cost the input price

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "") -> Self:
        if not isinstance(d, dict):
            raise ValueError(f"price {where!r} must be a mapping with input/output")
        unknown = set(d) - {"input", "output", "cached_input"}
        if unknown:
            raise ValueError(f"price {where!r}: unknown field(s) {sorted(unknown)}")
        try:
            inp, out = float(d["input"]), float(d["output"])
            cached = None if d.get("cached_input") is None else float(d["cached_input"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"price {where!r} needs numeric input and output: {e}") from None
        if min(inp, out, cached if cached is not None else 0.0) < 0:
            raise ValueError(f"price {where!r} is negative")
        return cls(inp, out, cached)


@dataclass(slots=True)
class PriceTable:
    """Model (exact name or `prefix*` glob) -> Price, with `"*"` as the default."""

    prices: dict[str, Price] = field(default_factory=dict)
    _cache: dict[str, Price | None] = field(default_factory=dict, repr=False)
    _warned: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Self:
        """Parse `{prices: {model-or-prefix*: {input, output, cached_input}, "*": {...}}}`."""
        d = d or {}
        raw = d.get("prices", {}) if isinstance(d, dict) else {}
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ValueError("prices must be a mapping of model -> price")
        return cls({str(k): Price.from_dict(v, str(k)) for k, v in raw.items()})

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read the `prices` section of a provider data file; a missing file is an empty table."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            log.warning("price table %s not found: USD budgets will see zero cost", path)
            return cls()
        return cls.from_dict(yaml.safe_load(text))

    def lookup(self, model: str) -> Price | None:
        """Exact name; else the longest matching `prefix*` glob or listed model that `model` is a
        dated/suffixed variant of (`gpt-4o-2024-08-06` costs what `gpt-4o` costs); else `"*"`."""
        if model in self._cache:
            return self._cache[model]
        found = self.prices.get(model)
        if found is None:
            best = -1.0
            for key, price in self.prices.items():
                if key == "*":
                    continue
                if any(c in key for c in "*?["):
                    hit = fnmatch.fnmatchcase(model, key)
                    weight = len(key.rstrip("*")) + 0.5  # on a tie an explicit glob wins
                else:
                    hit = model.startswith(key + "-")
                    weight = len(key)
                if hit and weight > best:
                    best, found = weight, price
        if found is None:
            found = self.prices.get("*")
        if len(self._cache) > 4096:  # bounded: model names come from clients
            self._cache.clear()
        self._cache[model] = found
        return found

    def cost_nano(self, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> int:
        """Cost in nano-USD. `cached_tokens` are part of `input_tokens` (OpenAI's convention)."""
        price = self.lookup(model)
        if price is None:
            if model not in self._warned and len(self._warned) < 1024:
                self._warned.add(model)
                log.warning("no price for model %r and no '*' default: cost counted as 0", model)
            return 0
        cached = max(0, min(cached_tokens, input_tokens))
        cached_price = price.input if price.cached_input is None else price.cached_input
        usd_per_m = (input_tokens - cached) * price.input + cached * cached_price + output_tokens * price.output
        return round(usd_per_m * _NANO_PER_TOKEN_PER_USD_PER_M)

    def cost_usd(self, model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """Cost in USD of one request's usage."""
        return self.cost_nano(model, input_tokens, output_tokens, cached_tokens) / NANO_PER_USD


def cost_usd(model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0, *,
             prices: PriceTable) -> float:
    """Cost in USD of one request's usage under `prices` (see PriceTable.cost_nano)."""
    return prices.cost_usd(model, input_tokens, output_tokens, cached_tokens)
