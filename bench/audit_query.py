"""Audit query time on chDB: tokens and cost by team over 10M events (target <= 1 s).

The rows are generated inside the engine (INSERT ... SELECT FROM numbers()), which also feeds
the usage_daily roll-up through its materialized view, exactly as shipped events would.
Measures the named query (reads the roll-up) and the same answer computed from raw events.

    python -m bench.audit_query [--rows 10000000] [--runs 5]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from audit.chdb_store import ChdbStore
from audit.named_queries import load_queries
from audit.schema import DdlParams, migrate

GENERATE = """
INSERT INTO events (id, time, user, team, roles, key_id, client, via, provider, endpoint, model, host, region,
                    stream, status, allowed, reasons, policy_revision, policy_input, finding_counts, audit_level,
                    prompt, response, prompt_sha256, response_sha256, input_tokens, output_tokens, cached_tokens,
                    cost_usd, latency_ms, upstream_ms, overhead_ms, ttfb_ms, error, request_id, chain_id,
                    chain_seq, prev_hash, hash)
SELECT
    hex(number) AS id,
    now64(3, 'UTC') - toIntervalMillisecond(number * 777 % (90 * 86400000)) AS time,
    concat('dev', toString(number % 2000)) AS user,
    concat('team', toString(number % 40)) AS team,
    ['developer'], concat('k', toString(number % 2000)), 'vscode-copilot', 'proxy',
    ['openai', 'anthropic', 'azure'][number % 3 + 1] AS provider, 'chat',
    ['gpt-4o', 'claude-sonnet', 'gpt-4o-mini', 'o3', 'claude-haiku'][number % 5 + 1] AS model,
    'api.example', 'eu', number % 2, 200, number % 50 != 0,
    if(number % 50 = 0, ['residency.region_not_allowed'], []), 'rev-1', '{}',
    if(number % 7 = 0, map('EMAIL_ADDRESS', 1), map()), 'metadata', '', '', '', '',
    toUInt32(200 + number % 3000) AS input_tokens, toUInt32(20 + number % 500) AS output_tokens, 0,
    (200 + number % 3000) * 2.5e-6 + (20 + number % 500) * 1e-5 AS cost_usd,
    100 + number % 900, 90 + number % 900, 2 + number % 5, 50, '', '', 'bench', number, '', ''
FROM numbers({rows})
"""

RAW = """
SELECT toDate(time) AS day, team, model, count() AS requests, sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens, round(sum(cost_usd), 6) AS cost_usd
FROM events
WHERE time >= now64(3, 'UTC') - INTERVAL 90 DAY
GROUP BY day, team, model ORDER BY day, team, model
"""

BY_TEAM = """
SELECT team, sum(input_tokens) + sum(output_tokens) AS tokens, round(sum(cost_usd), 6) AS cost_usd
FROM {table} WHERE {tcol} >= {lower} GROUP BY team ORDER BY team
"""


def timed(fn, runs: int) -> tuple[float, float, object]:
    out = None
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="audit-query-"))
    try:
        store = ChdbStore(tmp / "chdb")
        migrate(store, DdlParams())
        t = time.perf_counter()
        store.execute(GENERATE.replace("{rows}", str(args.rows)))
        gen_s = time.perf_counter() - t
        n = store.select("SELECT count() AS n FROM events")[0]["n"]
        q = load_queries()["tokens_cost_by_team_model_day"]
        params = q.bind({"since": "90d"})
        named = timed(lambda: store.select(q.sql, params), args.runs)
        raw = timed(lambda: store.select(RAW), args.runs)
        team_rollup = timed(lambda: store.select(BY_TEAM.format(table="usage_daily", tcol="day", lower="today() - 90")), args.runs)
        team_raw = timed(lambda: store.select(BY_TEAM.format(table="events", tcol="time", lower="now64(3, 'UTC') - INTERVAL 90 DAY")), args.runs)
        assert sum(r["requests"] for r in named[2]) == n, "roll-up disagrees with the events table"
        a = {r["team"]: r["tokens"] for r in team_rollup[2]}
        b = {r["team"]: r["tokens"] for r in team_raw[2]}
        assert a == b, "roll-up and raw scan disagree"
        print("| measure | median | best | rows out |")
        print("|---|---|---|---|")
        print(f"| generate {n:,} events (INSERT ... SELECT FROM numbers, incl. roll-ups) | {gen_s:.1f} s | | |")
        for label, (med, best, rows) in [
            ("named query tokens_cost_by_team_model_day, 90d (roll-up)", named),
            ("tokens+cost by team, 90d (roll-up)", team_rollup),
            ("tokens+cost by team, 90d (raw events scan)", team_raw),
            ("tokens+cost by day/team/model, 90d (raw events scan)", raw),
        ]:
            print(f"| {label} | {med * 1000:.1f} ms | {best * 1000:.1f} ms | {len(rows):,} |")  # type: ignore[arg-type]
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
