"""Backend-neutral budget arithmetic: which counters a request charges, does it fit, what remains."""
from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from proxy.budgets.config import BudgetConfig
from proxy.budgets.ledger import BudgetExceeded, BudgetRequest, Reservation
from proxy.budgets.limits import BudgetLimits, BudgetRule, Subject
from proxy.budgets.prices import NANO_PER_USD, PriceTable
from proxy.budgets.watched import WatchedFile
from proxy.budgets.windows import Period, period_of
from proxy.exchange import Principal

# (settled tokens, settled nano-USD, reserved tokens, reserved nano-USD) of one counter.
CounterState = tuple[int, int, int, int]
ZERO: CounterState = (0, 0, 0, 0)


def counter_key(rule: str, subject: str, period: str) -> str:
    """The ledger key of one budget instance in one period. Subjects cannot break the format."""
    return f"{rule}|{subject.replace('|', '_').replace(chr(10), '_')}|{period}"


@dataclass(frozen=True, slots=True)
class Applied:
    """One budget instance a request is charged to."""

    rule: BudgetRule
    subject: str
    period: str
    key: str
    resets_at: datetime
    resets_iso: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What a reservation will hold, and where."""

    applied: tuple[Applied, ...]
    tokens: int
    nano: int
    model: str
    provider: str


def new_reservation_id() -> str:
    """Time-ordered, unique across processes: milliseconds then 64 random bits, hex."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(8).hex()}"


class Accountant:
    """Holds limits and prices (reloaded on change) and does the arithmetic both backends share."""

    def __init__(self, config: BudgetConfig, clock: Callable[[], float] = time.time,
                 limits: BudgetLimits | None = None, prices: PriceTable | None = None) -> None:
        self.config = config
        self.clock = clock
        self._limits = limits
        self._prices = prices
        self._limits_file = None if limits is not None else WatchedFile(
            Path(config.limits_file), BudgetLimits.load, config.reload_interval_s)
        self._prices_file = None if prices is not None else WatchedFile(
            Path(config.prices_file), PriceTable.load, config.reload_interval_s)
        self._periods: dict[str, Period] = {}
        # Which budget instances apply to a subject changes only when the limits are reloaded
        # or a window rolls over; caching them keeps reserve() cheap on the proxy loop.
        self._applied: dict[Subject, tuple[float, tuple[Applied, ...]]] = {}
        self._applied_limits: BudgetLimits | None = None
        # Reserve also sweeps expired reservations now and then, so a crashed replica's holds
        # are returned even when nothing else calls reconcile().
        self.sweep_interval_s = min(60.0, config.reservation_ttl_s / 2)
        self._next_sweep = 0.0

    @property
    def limits(self) -> BudgetLimits:
        return self._limits if self._limits_file is None else self._limits_file.get()  # type: ignore[return-value]

    @property
    def prices(self) -> PriceTable:
        return self._prices if self._prices_file is None else self._prices_file.get()  # type: ignore[return-value]

    def period(self, window: str, now: float) -> Period:
        """The window's period containing `now` (cached until it ends)."""
        got = self._periods.get(window)
        if got is None or not got.contains(now):
            got = self._periods[window] = period_of(window, now)
        return got

    def applied_for(self, who: Subject, now: float) -> tuple[Applied, ...]:
        """Every budget instance that charges this subject now."""
        limits = self.limits
        if limits is not self._applied_limits or len(self._applied) > 4096:
            self._applied = {}
            self._applied_limits = limits
        hit = self._applied.get(who)
        if hit is not None and now < hit[0]:
            return hit[1]
        out = []
        valid_until = float("inf")
        for rule, subject in limits.applicable(who):
            p = self.period(rule.window, now)
            valid_until = min(valid_until, p.end)
            out.append(Applied(rule, subject, p.key, counter_key(rule.name, subject, p.key), p.resets_at, p.resets_iso))
        applied = tuple(out)
        self._applied[who] = (valid_until, applied)
        return applied

    def sweep_due(self, now: float) -> bool:
        """True at most once per sweep interval: time for reserve to run reconcile."""
        if now < self._next_sweep:
            return False
        self._next_sweep = now + self.sweep_interval_s
        return True

    def plan(self, req: BudgetRequest, now: float) -> Plan:
        """The estimate (prompt + max output tokens, and its cost) and the counters it goes to."""
        out_tokens = req.max_output_tokens if req.max_output_tokens > 0 else self.config.default_max_tokens
        inp = max(0, req.input_tokens)
        who = Subject(req.user, req.team, req.key_id, req.provider, req.model)
        applied = self.applied_for(who, now)
        nano = self.prices.cost_nano(req.model, inp, out_tokens) if any(a.rule.usd is not None for a in applied) else 0
        return Plan(applied, inp + out_tokens, nano, req.model, req.provider)

    def subject_of(self, req: BudgetRequest | Principal, provider: str, model: str) -> Subject:
        if isinstance(req, BudgetRequest):
            return Subject(req.user, req.team, req.key_id, req.provider, req.model)
        return Subject(req.id, req.team, req.key_id, provider, model)

    def exceeded(self, plan: Plan, states: list[CounterState]) -> BudgetExceeded | None:
        """The tightest budget the plan would overrun, or None when it fits everywhere."""
        worst: tuple[float, float, BudgetExceeded] | None = None
        for a, (st, sn, rt, rn) in zip(plan.applied, states, strict=True):
            candidates: list[tuple[str, int, int, int]] = []
            if a.rule.tokens is not None and st + rt + plan.tokens > a.rule.tokens:
                candidates.append(("tokens", a.rule.tokens, st + rt, plan.tokens))
            limit_nano = a.rule.limit_nano
            if limit_nano is not None and sn + rn + plan.nano > limit_nano:
                candidates.append(("usd", limit_nano, sn + rn, plan.nano))
            for unit, limit, used, need in candidates:
                slack = (limit - used) / limit if limit else float("-inf")
                scale = 1 if unit == "tokens" else NANO_PER_USD
                exc = BudgetExceeded(
                    a.rule.name, a.rule.describe(a.subject, unit),
                    limit if scale == 1 else limit / scale, used if scale == 1 else used / scale,
                    unit, a.resets_at, need if scale == 1 else need / scale)
                rank = (slack, -a.resets_at.timestamp())
                if worst is None or rank < worst[:2]:
                    worst = (rank[0], rank[1], exc)
        return None if worst is None else worst[2]

    def remaining(self, applied: Iterable[Applied], states: Iterable[CounterState],
                  extra_tokens: int = 0, extra_nano: int = 0) -> dict[str, Any]:
        """Least tokens and USD left across the budgets, and the tightest one (for headers)."""
        tokens: int | None = None
        nano: int | None = None
        tight: tuple[float, Applied] | None = None
        for a, (st, sn, rt, rn) in zip(applied, states, strict=True):
            if a.rule.tokens is not None:
                left = max(0, a.rule.tokens - st - rt - extra_tokens)
                tokens = left if tokens is None else min(tokens, left)
                frac = left / a.rule.tokens if a.rule.tokens else 0.0
                if tight is None or frac < tight[0]:
                    tight = (frac, a)
            limit_nano = a.rule.limit_nano
            if limit_nano is not None:
                left = max(0, limit_nano - sn - rn - extra_nano)
                nano = left if nano is None else min(nano, left)
                frac = left / limit_nano if limit_nano else 0.0
                if tight is None or frac < tight[0]:
                    tight = (frac, a)
        return {
            "tokens": tokens,
            "usd": None if nano is None else nano / NANO_PER_USD,
            "budget": tight[1].rule.name if tight else None,
            "fraction": None if tight is None else round(tight[0], 6),
            "resets_at": tight[1].resets_iso if tight else None,
        }

    def reservation(self, plan: Plan, rid: str, now: float, states: list[CounterState]) -> Reservation:
        """The handle returned by reserve, with what remains once the estimate is held."""
        return Reservation(
            id=rid, keys=tuple(a.key for a in plan.applied), tokens=plan.tokens, nano_usd=plan.nano,
            model=plan.model, provider=plan.provider, expires_at=now + self.config.reservation_ttl_s,
            remaining=self.remaining(plan.applied, states, plan.tokens, plan.nano))

    def report_rules(self, user: str | None, team: str | None) -> list[tuple[BudgetRule, str | None]]:
        """The rules a report shows, each with the subject it is filtered to (None: all)."""
        if user is None and team is None:
            return [(r, None) for r in self.limits.rules]
        out: list[tuple[BudgetRule, str | None]] = []
        for r in self.limits.rules:
            if user is not None and r.scope == "user":
                out.append((r, user))
            elif team is not None and r.scope == "team":
                out.append((r, team))
        return out

    def report_rows(self, rule: BudgetRule, now: float, counters: dict[str, CounterState],
                    wanted: str | None) -> list[dict[str, Any]]:
        """Rows for one rule: each subject with a counter this period, and exact matches at zero."""
        p = self.period(rule.window, now)
        period, reset = p.key, p.resets_iso
        subjects = dict(counters)
        if rule.specificity == 2 or rule.scope == "global":
            subjects.setdefault(rule.match, ZERO)
        elif wanted is not None and fnmatch.fnmatchcase(wanted, rule.match) and not any(
                o.slot == rule.slot and o.specificity > rule.specificity
                and fnmatch.fnmatchcase(wanted, o.match) for o in self.limits.rules):
            subjects.setdefault(wanted, ZERO)  # a default budget the subject has not used yet
        rows = []
        for subject, (st, sn, rt, rn) in sorted(subjects.items()):
            if wanted is not None and subject != wanted:
                continue
            for unit, limit, used, held, scale in (
                ("tokens", rule.tokens, st, rt, 1),
                ("usd", rule.limit_nano, sn, rn, NANO_PER_USD),
            ):
                if limit is None:
                    continue
                rows.append({
                    "budget": rule.name, "scope": rule.scope, "subject": subject,
                    "model": rule.model, "provider": rule.provider,
                    "window": rule.window, "period": period, "unit": unit,
                    "limit": limit if scale == 1 else limit / scale,
                    "used": used if scale == 1 else used / scale,
                    "reserved": held if scale == 1 else held / scale,
                    "remaining": max(0, limit - used - held) if scale == 1 else max(0, limit - used - held) / scale,
                    "resets_at": reset,
                })
        return rows
