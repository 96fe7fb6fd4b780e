"""The shared ledger: Redis, changed only by Lua scripts so that replicas hold one budget.

Each script runs atomically on the server, so the check-and-hold of a reservation is one step
for every proxy process sharing the Redis. All keys carry one hash tag, so the scripts also run
on Redis Cluster (every key in one slot). Counters are hashes {st, sn, rt, rn}: settled and
reserved tokens and nano-USD; amounts are passed as decimal strings and added with HINCRBY,
so the server does exact 64-bit integer arithmetic.
"""
from __future__ import annotations

import logging
from typing import Any

import redis
from redis.commands.core import Script

from proxy.budgets.accounting import ZERO, Accountant, CounterState, counter_key, new_reservation_id
from proxy.budgets.counter_ledger import CounterLedger
from proxy.budgets.ledger import BudgetRequest, LedgerUnavailable, Reservation
from proxy.budgets.windows import period_key

log = logging.getLogger(__name__)

PREFIX = "{customs:budgets}"
EXPIRED_RETENTION_S = 86400  # expired reservations are remembered so a late settle still charges
COUNTER_GRACE_S = 86400  # counters outlive their window a day (late settles, reports)

# KEYS: reservation, open-set, then n counters, then n index sets.
# ARGV: id, expires_at, tokens, nano, record_ttl, n, then per counter: limit_t, limit_n, expire_at, subject.
_RESERVE = """
local n = tonumber(ARGV[6])
local t, nn = tonumber(ARGV[3]), tonumber(ARGV[4])
local states = {}
local ok = 1
for i = 1, n do
  local v = redis.call('HMGET', KEYS[2 + i], 'st', 'sn', 'rt', 'rn')
  local st, sn, rt, rn = tonumber(v[1] or 0), tonumber(v[2] or 0), tonumber(v[3] or 0), tonumber(v[4] or 0)
  local base = 6 + (i - 1) * 4
  local lt, ln = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  if lt >= 0 and st + rt + t > lt then ok = 0 end
  if ln >= 0 and sn + rn + nn > ln then ok = 0 end
  states[#states + 1] = v[1] or '0'
  states[#states + 1] = v[2] or '0'
  states[#states + 1] = v[3] or '0'
  states[#states + 1] = v[4] or '0'
end
if ok == 0 then return {0, states} end
local keys = {}
for i = 1, n do
  local c = KEYS[2 + i]
  local base = 6 + (i - 1) * 4
  redis.call('HINCRBY', c, 'rt', ARGV[3])
  redis.call('HINCRBY', c, 'rn', ARGV[4])
  redis.call('EXPIREAT', c, ARGV[base + 3])
  redis.call('SADD', KEYS[2 + n + i], ARGV[base + 4])
  redis.call('EXPIREAT', KEYS[2 + n + i], ARGV[base + 3])
  keys[#keys + 1] = c
end
redis.call('HSET', KEYS[1], 'status', 'open', 't', ARGV[3], 'n', ARGV[4], 'keys', table.concat(keys, '\\n'))
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return {1, states}
"""

# KEYS: reservation, open-set, then counters. ARGV: id, settle (1|0), tokens, nano, counter_ttl.
# Closing deletes the record, so a second settle/release finds nothing and changes nothing;
# a record reconcile marked 'expired' has no hold left, but its settle still charges usage.
_CLOSE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
local ht, hn = '0', '0'
if status == 'open' then
  local v = redis.call('HMGET', KEYS[1], 't', 'n')
  ht = string.format('%d', -tonumber(v[1]))
  hn = string.format('%d', -tonumber(v[2]))
end
local settle = ARGV[2] == '1'
for i = 3, #KEYS do
  local c = KEYS[i]
  if settle and ARGV[3] ~= '0' then redis.call('HINCRBY', c, 'st', ARGV[3]) end
  if settle and ARGV[4] ~= '0' then redis.call('HINCRBY', c, 'sn', ARGV[4]) end
  if ht ~= '0' then redis.call('HINCRBY', c, 'rt', ht) end
  if hn ~= '0' then redis.call('HINCRBY', c, 'rn', hn) end
  if redis.call('TTL', c) == -1 then redis.call('EXPIRE', c, ARGV[5]) end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: open-set. ARGV: now, batch, reservation key prefix, record_ttl.
_RECONCILE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local n = 0
for _, id in ipairs(ids) do
  local rk = ARGV[3] .. id
  local v = redis.call('HMGET', rk, 'status', 't', 'n', 'keys')
  if v[1] == 'open' then
    local ht = string.format('%d', -tonumber(v[2]))
    local hn = string.format('%d', -tonumber(v[3]))
    for c in string.gmatch(v[4], '[^\\n]+') do
      if ht ~= '0' then redis.call('HINCRBY', c, 'rt', ht) end
      if hn ~= '0' then redis.call('HINCRBY', c, 'rn', hn) end
    end
    redis.call('HSET', rk, 'status', 'expired')
    redis.call('EXPIRE', rk, ARGV[4])
    n = n + 1
  end
  redis.call('ZREM', KEYS[1], id)
end
return {n, #ids}
"""


class RedisLedger(CounterLedger):
    """Ledger on a Redis server shared by every proxy replica."""

    def __init__(self, url: str, accountant: Accountant, timeout_s: float = 1.0) -> None:
        self.acct = accountant
        # Short timeouts: reserve runs on the proxy loop; a hung Redis must fail fast.
        # A blocking pool: bursts from many threads wait (up to the timeout) for a connection
        # instead of failing with "too many connections".
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=timeout_s, socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s, decode_responses=True)
        self._r = redis.Redis(connection_pool=pool)
        self._reserve: Script = self._r.register_script(_RESERVE)  # EVALSHA, EVAL on NOSCRIPT
        self._close_script: Script = self._r.register_script(_CLOSE)
        self._reconcile: Script = self._r.register_script(_RECONCILE)
        self._open = f"{PREFIX}:open"

    @staticmethod
    def _counter(key: str) -> str:
        return f"{PREFIX}:c:{key}"

    @staticmethod
    def _index(budget: str, period: str) -> str:
        return f"{PREFIX}:i:{budget}|{period}"

    @staticmethod
    def _res(rid: str) -> str:
        return f"{PREFIX}:r:{rid}"

    def _record_ttl(self) -> int:
        # An open reservation's record must outlive its expiry until reconcile has seen it.
        return int(self.acct.config.reservation_ttl_s + 7 * 86400)

    def _call(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as e:
            # The error text names host/port at most; URLs (which may hold a password) are not included.
            raise LedgerUnavailable(f"budget ledger (redis) is unavailable: {type(e).__name__}: {e}") from None

    def reserve(self, req: BudgetRequest) -> Reservation:
        """Hold the estimate on every applicable budget in one script, or raise BudgetExceeded."""
        now = self.acct.clock()
        if self.acct.sweep_due(now):
            self._sweep()
        plan = self.acct.plan(req, now)
        rid = new_reservation_id()
        if not plan.applied:
            return self.acct.reservation(plan, rid, now, [])
        expires = now + self.acct.config.reservation_ttl_s
        keys = [self._res(rid), self._open]
        keys += [self._counter(a.key) for a in plan.applied]
        keys += [self._index(a.rule.name, a.period) for a in plan.applied]
        args: list[Any] = [rid, repr(expires), str(plan.tokens), str(plan.nano), self._record_ttl(), len(plan.applied)]
        for a in plan.applied:
            lt = a.rule.tokens if a.rule.tokens is not None else -1
            ln = a.rule.limit_nano if a.rule.limit_nano is not None else -1
            args += [lt, ln, int(a.resets_at.timestamp()) + COUNTER_GRACE_S, a.subject]
        ok, flat = self._call(self._reserve, keys, args)
        states = [tuple(int(x) for x in flat[i:i + 4]) for i in range(0, len(flat), 4)]
        if not ok:
            exc = self.acct.exceeded(plan, states)  # type: ignore[arg-type]
            if exc is None:  # limits reloaded between the script and here: report the plain fact
                raise LedgerUnavailable("budget check raced a limits reload; retry")
            raise exc
        return self.acct.reservation(plan, rid, now, states)  # type: ignore[arg-type]

    def _close(self, res: Reservation, settle: bool, tokens: int, nano: int) -> None:
        if not res.keys:
            return
        keys = [self._res(res.id), self._open] + [self._counter(k) for k in res.keys]
        self._call(self._close_script, keys, [res.id, "1" if settle else "0", str(tokens), str(nano), 40 * 86400])


    def reconcile(self) -> int:
        """Expire open reservations past their TTL (in batches, so no script runs long)."""
        total = 0
        now = repr(self.acct.clock())
        while True:
            expired, seen = self._call(self._reconcile, [self._open],
                                       [now, 500, f"{PREFIX}:r:", EXPIRED_RETENTION_S])
            total += int(expired)
            if int(seen) < 500:
                break
        if total:
            log.warning("budget ledger: expired %d reservation(s) left by crashed or stuck requests", total)
        return total

    def _states(self, keys: list[str]) -> list[CounterState]:
        try:
            pipe = self._r.pipeline(transaction=False)
            for k in keys:
                pipe.hmget(self._counter(k), "st", "sn", "rt", "rn")
            rows = pipe.execute()
        except redis.RedisError as e:
            raise LedgerUnavailable(f"budget ledger (redis) is unavailable: {type(e).__name__}: {e}") from None
        return [tuple(int(x or 0) for x in row) if any(row) else ZERO for row in rows]  # type: ignore[misc]


    def report(self, user: str | None = None, team: str | None = None) -> list[dict[str, Any]]:
        """Usage against limits in the current windows."""
        now = self.acct.clock()
        rows: list[dict[str, Any]] = []
        for rule, wanted in self.acct.report_rules(user, team):
            period = period_key(rule.window, now)
            try:
                members: Any = self._r.smembers(self._index(rule.name, period))
                subjects: list[str] = sorted(str(m) for m in members)  # decode_responses: already str
            except redis.RedisError as e:
                raise LedgerUnavailable(f"budget ledger (redis) is unavailable: {type(e).__name__}: {e}") from None
            if wanted is not None:
                subjects = [s for s in subjects if s == wanted]
            states = self._states([counter_key(rule.name, s, period) for s in subjects])
            rows.extend(self.acct.report_rows(rule, now, dict(zip(subjects, states, strict=True)), wanted))
        return rows


    def close(self) -> None:
        """Close the connection pool."""
        self._r.close()
