"""budgets.yaml: validation and which budgets apply to a request."""
from pathlib import Path

import pytest

from proxy.budgets import BudgetLimits
from proxy.budgets.limits import Subject

REPO = Path(__file__).resolve().parents[2]

EXAMPLE = {"budgets": [
    {"name": "team-payments-daily", "scope": "team", "match": "payments", "window": "daily", "tokens": 2_000_000},
    {"name": "user-default-monthly-usd", "scope": "user", "match": "*", "window": "monthly", "usd": 50},
    {"name": "user-bob-monthly-usd", "scope": "user", "match": "bob", "window": "monthly", "usd": 200},
    {"name": "contractors-gpt4o", "scope": "team", "match": "contractors", "model": "gpt-4o*",
     "window": "daily", "tokens": 100_000},
    {"name": "key-ci", "scope": "key", "match": "k-ci", "window": "daily", "tokens": 500_000},
    {"name": "anthropic-all", "scope": "global", "provider": "anthropic", "window": "monthly", "usd": 1000},
]}


def names(limits: BudgetLimits, **who: str) -> set[str]:
    base = {"user": "", "team": "", "key_id": "", "provider": "openai", "model": "gpt-4o"}
    base.update(who)
    return {r.name for r, _ in limits.applicable(Subject(**base))}


def test_team_user_and_key_budgets_apply_together():
    lim = BudgetLimits.from_dict(EXAMPLE)
    assert names(lim, user="alice", team="payments", key_id="k-ci") == {
        "team-payments-daily", "user-default-monthly-usd", "key-ci"}


def test_specific_user_budget_replaces_the_default():
    lim = BudgetLimits.from_dict(EXAMPLE)
    assert names(lim, user="bob", team="platform") == {"user-bob-monthly-usd"}
    assert names(lim, user="carol", team="platform") == {"user-default-monthly-usd"}


def test_model_filter_narrows_a_budget():
    lim = BudgetLimits.from_dict(EXAMPLE)
    assert "contractors-gpt4o" in names(lim, user="dave", team="contractors", model="gpt-4o-2024-08-06")
    assert "contractors-gpt4o" not in names(lim, user="dave", team="contractors", model="o3-mini")


def test_provider_filter_and_global_scope():
    lim = BudgetLimits.from_dict(EXAMPLE)
    applied = dict((r.name, s) for r, s in lim.applicable(
        Subject("alice", "payments", "", "anthropic", "claude-sonnet-4-5")))
    assert applied["anthropic-all"] == "*"
    assert "anthropic-all" not in names(lim, user="alice", provider="openai")


def test_each_subject_of_a_wildcard_budget_is_counted_separately():
    lim = BudgetLimits.from_dict(EXAMPLE)
    subjects = {s for r, s in lim.applicable(Subject("carol", "", "", "openai", "m")) if r.name == "user-default-monthly-usd"}
    assert subjects == {"carol"}


def test_missing_team_or_key_means_those_budgets_do_not_apply():
    lim = BudgetLimits.from_dict(EXAMPLE)
    assert names(lim, user="alice") == {"user-default-monthly-usd"}


@pytest.mark.parametrize("entry, message", [
    ({"name": "x", "scope": "org", "tokens": 1}, "scope"),
    ({"name": "x", "scope": "user", "window": "weekly", "tokens": 1}, "window"),
    ({"name": "x", "scope": "user"}, "tokens and/or usd"),
    ({"name": "x", "scope": "user", "tokens": -5}, "tokens"),
    ({"name": "x", "scope": "user", "tokens": "lots"}, "tokens"),
    ({"name": "x", "scope": "user", "usd": -1}, "usd"),
    ({"name": "x", "scope": "user", "tokens": 1, "limit": 3}, "unknown field"),
    ({"name": "bad name", "scope": "user", "tokens": 1}, "name"),
])
def test_invalid_entries_are_rejected_with_the_reason(entry, message):
    with pytest.raises(ValueError, match=message):
        BudgetLimits.from_dict({"budgets": [entry]})


def test_duplicate_names_are_rejected():
    entry = {"name": "x", "scope": "user", "tokens": 1}
    with pytest.raises(ValueError, match="twice"):
        BudgetLimits.from_dict({"budgets": [entry, entry]})


def test_the_repository_budgets_file_is_valid():
    lim = BudgetLimits.load(REPO / "policies/data/budgets.yaml")
    assert {r.name for r in lim.rules} >= {"team-payments-daily", "user-default-monthly-usd", "key-ci"}


def test_missing_file_means_no_budgets(tmp_path):
    assert BudgetLimits.load(tmp_path / "absent.yaml").rules == ()
