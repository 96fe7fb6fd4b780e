"""Daily and monthly UTC windows: period keys and reset times."""
from datetime import UTC, datetime

import pytest

from proxy.budgets.windows import period_key, resets_at


def ts(*a: int) -> float:
    return datetime(*a, tzinfo=UTC).timestamp()


def test_daily_period_is_the_utc_date():
    assert period_key("daily", ts(2026, 11, 26, 23, 59, 59)) == "2026-11-26"
    assert period_key("daily", ts(2026, 11, 27, 0, 0, 0)) == "2026-11-27"


def test_daily_window_resets_at_next_utc_midnight():
    assert resets_at("daily", ts(2026, 11, 26, 13, 5)) == datetime(2026, 11, 27, tzinfo=UTC)
    assert resets_at("daily", ts(2026, 12, 31, 23, 0)) == datetime(2027, 1, 1, tzinfo=UTC)


def test_midnight_belongs_to_the_new_day():
    assert resets_at("daily", ts(2026, 11, 27)) == datetime(2026, 11, 28, tzinfo=UTC)


def test_monthly_period_and_reset_including_year_end_and_february():
    assert period_key("monthly", ts(2026, 11, 30, 23, 59)) == "2026-11"
    assert resets_at("monthly", ts(2026, 11, 30, 23, 59)) == datetime(2026, 12, 1, tzinfo=UTC)
    assert resets_at("monthly", ts(2026, 12, 15)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert resets_at("monthly", ts(2028, 2, 29, 12)) == datetime(2028, 3, 1, tzinfo=UTC)
    assert period_key("monthly", ts(2027, 1, 1)) == "2027-01"


def test_windows_ignore_the_local_timezone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: local date differs from UTC
    time.tzset()
    try:
        assert period_key("daily", ts(2026, 11, 26, 20)) == "2026-11-26"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_unknown_window_is_an_error():
    with pytest.raises(ValueError):
        period_key("weekly", 0)
