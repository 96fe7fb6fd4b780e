"""Ledger behaviour, the same on SQLite and Redis: reserve, settle, release, expiry, reports."""
from datetime import UTC, datetime

import pytest

from proxy.budgets import BudgetConfig, BudgetExceeded, BudgetRequest, LedgerUnavailable, open_ledger
from proxy.budgets.prices import NANO_PER_USD
from proxy.exchange import Principal

from .conftest import PRICES, Clock

NOW = datetime(2026, 11, 26, 13, 0, tzinfo=UTC).timestamp()
TEAM_DAILY = {"name": "team-daily", "scope": "team", "match": "payments", "window": "daily", "tokens": 10_000}
USER_USD = {"name": "user-usd", "scope": "user", "match": "*", "window": "monthly", "usd": 1.0}


def req(user="alice", team="payments", key="k1", model="gpt-4o", inp=1000, out=1000, provider="openai"):
    return BudgetRequest(user=user, team=team, key_id=key, provider=provider, model=model,
                         input_tokens=inp, max_output_tokens=out)


def row(ledger, budget, unit, subject=None):
    rows = [r for r in ledger.report() if r["budget"] == budget and r["unit"] == unit
            and (subject is None or r["subject"] == subject)]
    assert len(rows) == 1, rows
    return rows[0]


def test_reservation_holds_the_estimate_and_settle_replaces_it(make_ledger):
    ledger = make_ledger({"budgets": [TEAM_DAILY]}, Clock(NOW))
    res = ledger.reserve(req(inp=1200, out=800))
    r = row(ledger, "team-daily", "tokens")
    assert (r["used"], r["reserved"], r["remaining"]) == (0, 2000, 8000)
    assert res.remaining["tokens"] == 8000
    ledger.settle(res, 1100, 300)
    r = row(ledger, "team-daily", "tokens")
    assert (r["used"], r["reserved"], r["remaining"]) == (1400, 0, 8600)


def test_request_that_does_not_fit_is_refused_naming_budget_limit_used_and_reset(make_ledger):
    ledger = make_ledger({"budgets": [TEAM_DAILY]}, Clock(NOW))
    ledger.settle(ledger.reserve(req(inp=4000, out=4000)), 4000, 5000)
    with pytest.raises(BudgetExceeded) as ei:
        ledger.reserve(req(inp=1000, out=500))
    e = ei.value
    assert (e.name, e.budget, e.unit, e.limit, e.used, e.requested) == (
        "team-daily", "team:payments daily tokens", "tokens", 10_000, 9000, 1500)
    assert e.resets_at == datetime(2026, 11, 27, tzinfo=UTC)
    assert "team-daily" in str(e) and "2026-11-27T00:00:00Z" in str(e)
    # A refused request holds nothing.
    assert row(ledger, "team-daily", "tokens")["reserved"] == 0


def test_usd_budget_uses_the_price_table(make_ledger):
    ledger = make_ledger({"budgets": [USER_USD]}, Clock(NOW))
    res = ledger.reserve(req(model="gpt-4o", inp=100_000, out=20_000))
    assert res.nano_usd == PRICES.cost_nano("gpt-4o", 100_000, 20_000)  # 0.25 + 0.20 USD
    ledger.settle(res, 100_000, 10_000, cached_tokens=40_000)
    expected = (60_000 * 2.5 + 40_000 * 1.25 + 10_000 * 10.0) / 1e6
    assert row(ledger, "user-usd", "usd")["used"] == pytest.approx(expected, abs=1e-9)
    # 0.30 USD used of 1.00: a 0.75 USD estimate no longer fits.
    with pytest.raises(BudgetExceeded) as ei:
        ledger.reserve(req(model="gpt-4o", inp=100_000, out=50_000))
    assert ei.value.unit == "usd" and ei.value.limit == 1.0
    assert ei.value.used == pytest.approx(expected)
    assert ei.value.budget == "user:alice monthly usd"


def test_the_tightest_of_several_exceeded_budgets_is_named(make_ledger):
    limits = {"budgets": [
        {"name": "loose", "scope": "team", "match": "payments", "window": "monthly", "tokens": 1_000_000},
        {"name": "tight", "scope": "user", "match": "alice", "window": "daily", "tokens": 1_000},
        {"name": "medium", "scope": "key", "match": "k1", "window": "daily", "tokens": 1_500},
    ]}
    ledger = make_ledger(limits, Clock(NOW))
    ledger.settle(ledger.reserve(req(inp=100, out=100)), 900, 0)
    with pytest.raises(BudgetExceeded) as ei:
        ledger.reserve(req(inp=500, out=500))
    assert ei.value.name == "tight"


def test_reservation_is_all_or_nothing_across_budgets(make_ledger):
    limits = {"budgets": [TEAM_DAILY, {"name": "key-small", "scope": "key", "match": "k1", "window": "daily",
                                       "tokens": 1500}]}
    ledger = make_ledger(limits, Clock(NOW))
    with pytest.raises(BudgetExceeded):
        ledger.reserve(req(inp=1000, out=1000))
    assert row(ledger, "team-daily", "tokens")["reserved"] == 0
    assert row(ledger, "key-small", "tokens")["reserved"] == 0


def test_release_returns_the_hold_and_later_settle_is_a_no_op(make_ledger):
    ledger = make_ledger({"budgets": [TEAM_DAILY]}, Clock(NOW))
    res = ledger.reserve(req())
    ledger.release(res)
    ledger.settle(res, 500, 500)  # a release already closed it
    ledger.release(res)
    r = row(ledger, "team-daily", "tokens")
    assert (r["used"], r["reserved"]) == (0, 0)


def test_second_settle_does_not_charge_twice(make_ledger):
    ledger = make_ledger({"budgets": [TEAM_DAILY]}, Clock(NOW))
    res = ledger.reserve(req())
    ledger.settle(res, 700, 100)
    ledger.settle(res, 700, 100)
    assert row(ledger, "team-daily", "tokens")["used"] == 800


def test_expired_reservation_is_reconciled_and_a_late_settle_still_charges_once(make_ledger):
    clock = Clock(NOW)
    ledger = make_ledger({"budgets": [TEAM_DAILY]}, clock, reservation_ttl_s=60)
    res = ledger.reserve(req())
    assert ledger.reconcile() == 0
    clock.now += 61
    assert ledger.reconcile() == 1
    assert row(ledger, "team-daily", "tokens")["reserved"] == 0
    ledger.settle(res, 300, 200)  # the stream outlived its TTL: usage is still real
    ledger.settle(res, 300, 200)
    r = row(ledger, "team-daily", "tokens")
    assert (r["used"], r["reserved"]) == (500, 0)
    assert ledger.reconcile() == 0


def test_daily_budget_starts_fresh_the_next_day(make_ledger):
    clock = Clock(NOW)
    ledger = make_ledger({"budgets": [TEAM_DAILY]}, clock)
    ledger.settle(ledger.reserve(req(inp=4000, out=4000)), 9000, 0)
    with pytest.raises(BudgetExceeded):
        ledger.reserve(req())
    clock.now += 86400
    res = ledger.reserve(req())
    assert res.remaining["tokens"] == 8000
    assert row(ledger, "team-daily", "tokens")["period"] == "2026-11-27"


def test_missing_max_tokens_is_estimated_with_the_configured_default(make_ledger):
    ledger = make_ledger({"budgets": [TEAM_DAILY]}, Clock(NOW), default_max_tokens=3000)
    res = ledger.reserve(req(inp=100, out=0))
    assert res.tokens == 3100


def test_remaining_and_headers_report_the_tightest_budget(make_ledger):
    ledger = make_ledger({"budgets": [TEAM_DAILY, USER_USD]}, Clock(NOW))
    res = ledger.reserve(req(inp=1000, out=1000))
    headers = res.headers()
    assert headers["x-customs-budget-remaining-tokens"] == "8000"
    assert float(headers["x-customs-budget-remaining-usd"]) == pytest.approx(1.0 - 0.0125)
    assert headers["x-customs-budget"] == "team-daily"
    assert headers["x-customs-budget-reset"] == "2026-11-27T00:00:00Z"
    rem = ledger.remaining(Principal(id="alice", team="payments", key_id="k1"), provider="openai", model="gpt-4o")
    assert rem["tokens"] == 8000 and rem["budget"] == "team-daily"
    assert ledger.remaining(req())["tokens"] == 8000


def test_no_applicable_budget_reserves_nothing(make_ledger):
    ledger = make_ledger({"budgets": [TEAM_DAILY]}, Clock(NOW))
    res = ledger.reserve(req(team="platform"))
    assert res.keys == () and res.remaining["tokens"] is None
    ledger.settle(res, 10, 10)
    assert row(ledger, "team-daily", "tokens")["used"] == 0


def test_report_filters_by_user_and_team_and_shows_unused_defaults(make_ledger):
    ledger = make_ledger({"budgets": [TEAM_DAILY, USER_USD]}, Clock(NOW))
    ledger.settle(ledger.reserve(req(user="alice")), 10, 10)
    ledger.settle(ledger.reserve(req(user="bob", team="platform")), 10, 10)
    assert {r["subject"] for r in ledger.report(user="bob")} == {"bob"}
    assert [r["budget"] for r in ledger.report(team="payments")] == ["team-daily"]
    fresh = ledger.report(user="zoe")
    assert [(r["budget"], r["used"]) for r in fresh] == [("user-usd", 0.0)]
    assert {r["subject"] for r in ledger.report() if r["budget"] == "user-usd"} == {"alice", "bob"}


def test_cost_usd_helper(make_ledger):
    ledger = make_ledger({"budgets": []}, Clock(NOW))
    assert ledger.cost_usd("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)
    assert PRICES.cost_nano("gpt-4o", 1_000_000, 0) == 2.5 * NANO_PER_USD


def test_limits_file_change_is_picked_up_without_restart(backend, request, tmp_path):
    url = request.getfixturevalue("fresh_redis") if backend == "redis" else BudgetConfig().redis_url
    limits = tmp_path / "budgets.yaml"
    limits.write_text("budgets:\n  - {name: t, scope: team, match: payments, window: daily, tokens: 100}\n")
    config = BudgetConfig.from_dict({"backend": backend, "redis_url": url, "limits_file": str(limits),
                                     "prices_file": str(tmp_path / "none.yaml"), "reload_interval_s": 0})
    ledger = open_ledger(config, tmp_path)
    try:
        with pytest.raises(BudgetExceeded):
            ledger.reserve(req(inp=100, out=100))
        limits.write_text("budgets:\n  - {name: t, scope: team, match: payments, window: daily, tokens: 100000}\n")
        assert ledger.reserve(req(inp=100, out=100)).remaining["tokens"] == 100000 - 200
        limits.write_text("budgets: [ {name: broken")  # a bad edit keeps the last good limits
        assert ledger.reserve(req(inp=100, out=100)).remaining["tokens"] == 100000 - 400
    finally:
        ledger.close()


def test_redis_down_fails_closed_with_a_clear_error(tmp_path):
    from .conftest import _free_port

    config = BudgetConfig.from_dict({"backend": "redis", "redis_url": f"redis://127.0.0.1:{_free_port()}/0",
                                     "redis_timeout_s": 0.2})
    ledger = open_ledger(config, tmp_path, limits=_limits(), prices=PRICES)
    with pytest.raises(LedgerUnavailable, match="redis"):
        ledger.reserve(req())
    ledger.close()


def test_fail_open_lets_requests_through_unbudgeted_when_the_ledger_is_down(tmp_path):
    from .conftest import _free_port

    config = BudgetConfig.from_dict({"backend": "redis", "redis_url": f"redis://127.0.0.1:{_free_port()}/0",
                                     "redis_timeout_s": 0.2, "fail_closed": False})
    ledger = open_ledger(config, tmp_path, limits=_limits(), prices=PRICES)
    res = ledger.reserve(req())
    assert res.keys == () and res.remaining == {"unavailable": True}
    ledger.settle(res, 1, 1)
    ledger.close()


def test_closed_sqlite_ledger_raises_ledger_unavailable(tmp_path):
    ledger = open_ledger(BudgetConfig(), tmp_path, limits=_limits(), prices=PRICES)
    ledger.close()
    with pytest.raises(LedgerUnavailable):
        ledger.reserve(req())


def test_sqlite_file_lives_in_the_data_dir(tmp_path):
    ledger = open_ledger(BudgetConfig(), tmp_path / "data", limits=_limits(), prices=PRICES)
    ledger.close()
    assert (tmp_path / "data" / "budgets.sqlite3").exists()


def _limits():
    from proxy.budgets import BudgetLimits

    return BudgetLimits.from_dict({"budgets": [TEAM_DAILY]})


def test_closed_reservations_leave_no_records_behind(make_ledger, backend, tmp_path):
    ledger = make_ledger({"budgets": [TEAM_DAILY]}, Clock(NOW))
    for i in range(20):
        res = ledger.reserve(req(inp=10, out=10))
        ledger.settle(res, 5, 5) if i % 2 else ledger.release(res)
    if backend == "sqlite":
        import sqlite3

        db = sqlite3.connect(tmp_path / "budgets.sqlite3")
        assert db.execute("SELECT count(*) FROM reservations").fetchone() == (0,)
        db.close()
    else:
        import redis

        client = redis.Redis.from_url(_redis_url(ledger))
        assert [k for k in client.keys("*") if b":r:" in k] == []
        assert client.zcard("{customs:budgets}:open") == 0
        client.close()


def test_redis_keys_share_one_hash_tag_so_scripts_run_on_a_cluster(fresh_redis, tmp_path):
    import redis

    config = BudgetConfig.from_dict({"backend": "redis", "redis_url": fresh_redis})
    ledger = open_ledger(config, tmp_path, limits=_limits(), prices=PRICES, clock=Clock(NOW))
    ledger.reserve(req())
    client = redis.Redis.from_url(fresh_redis)
    keys = client.keys("*")
    client.close()
    ledger.close()
    assert len(keys) >= 3
    assert all(k.startswith(b"{customs:budgets}:") for k in keys)


def test_ledger_errors_do_not_reveal_the_redis_password(tmp_path):
    from .conftest import _free_port

    config = BudgetConfig.from_dict({"backend": "redis", "redis_timeout_s": 0.2,
                                     "redis_url": f"redis://:s3cret-pw@127.0.0.1:{_free_port()}/0"})
    ledger = open_ledger(config, tmp_path, limits=_limits(), prices=PRICES)
    with pytest.raises(LedgerUnavailable) as ei:
        ledger.reserve(req())
    ledger.close()
    assert "s3cret-pw" not in str(ei.value)


def _redis_url(ledger) -> str:
    kw = ledger._r.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/{kw.get('db', 0)}"


def test_reserve_sweeps_expired_holds_of_a_crashed_replica_without_an_explicit_reconcile(make_ledger):
    clock = Clock(NOW)
    crashed = make_ledger({"budgets": [TEAM_DAILY]}, clock, reservation_ttl_s=60)
    for _ in range(5):
        crashed.reserve(req())  # 5 x 2000 tokens: the whole budget, never settled
    survivor = make_ledger({"budgets": [TEAM_DAILY]}, clock, reservation_ttl_s=60)
    with pytest.raises(BudgetExceeded):
        survivor.reserve(req())
    clock.now += 61
    res = survivor.reserve(req())
    assert res.remaining["tokens"] == 8000
