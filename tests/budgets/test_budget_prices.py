"""The price table from providers.yaml and request costs."""
import pytest

from proxy.budgets import PriceTable, cost_usd

PROVIDERS_YAML = """
providers:
  openai: {region: us}
prices:
  gpt-4o: {input: 2.5, output: 10, cached_input: 1.25}
  gpt-4o-mini*: {input: 0.15, output: 0.6, cached_input: 0.075}
  gpt-4o*: {input: 5, output: 15}
  claude-*: {input: 3, output: 15}
  "*": {input: 1, output: 2}
"""


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "providers.yaml"
    path.write_text(PROVIDERS_YAML)
    return PriceTable.load(path)


def test_exact_model_beats_prefix(table):
    assert table.lookup("gpt-4o").input == 2.5


def test_longest_prefix_wins(table):
    assert table.lookup("gpt-4o-mini-2024-07-18").input == 0.15
    assert table.lookup("gpt-4o-2024-08-06").input == 5


def test_unknown_model_uses_the_default(table):
    assert table.lookup("llama-3-70b").output == 2


def test_cost_counts_cached_tokens_at_their_own_price(table):
    # 1M prompt tokens of which 400k cached, 100k output, gpt-4o:
    # 600k * 2.5 + 400k * 1.25 + 100k * 10 per 1M = 1.5 + 0.5 + 1.0
    assert table.cost_usd("gpt-4o", 1_000_000, 100_000, 400_000) == pytest.approx(3.0, abs=1e-12)


def test_cached_tokens_without_a_cached_price_cost_the_input_price(table):
    assert table.cost_usd("claude-sonnet-4", 1000, 0, 1000) == table.cost_usd("claude-sonnet-4", 1000, 0, 0)


def test_cost_helper_function(table):
    assert cost_usd("gpt-4o", 1_000_000, 0, prices=table) == pytest.approx(2.5)


def test_no_table_and_no_default_costs_nothing(tmp_path):
    empty = PriceTable.load(tmp_path / "missing.yaml")
    assert empty.lookup("gpt-4o") is None
    assert empty.cost_usd("gpt-4o", 1000, 1000) == 0.0


def test_malformed_price_is_rejected():
    with pytest.raises(ValueError, match="gpt-x"):
        PriceTable.from_dict({"prices": {"gpt-x": {"input": "cheap", "output": 1}}})
    with pytest.raises(ValueError, match="negative"):
        PriceTable.from_dict({"prices": {"m": {"input": -1, "output": 1}}})


def test_dated_variant_of_a_listed_model_costs_what_the_model_costs(tmp_path):
    path = tmp_path / "providers.yaml"
    path.write_text("prices:\n  gpt-4o: {input: 2.5, output: 10}\n  gpt-4o-mini: {input: 0.15, output: 0.6}\n"
                    "  '*': {input: 1, output: 4}\n")
    table = PriceTable.load(path)
    assert table.lookup("gpt-4o-2024-08-06").input == 2.5
    assert table.lookup("gpt-4o-mini-2024-07-18").input == 0.15
    assert table.lookup("gpt-4omni").input == 1  # not a variant: the default


def test_the_repository_price_table_loads():
    from pathlib import Path

    # Owned by the policy data; this checks only that the budget loader accepts it.
    table = PriceTable.load(Path(__file__).resolve().parents[2] / "policies/data/providers.yaml")
    assert all(p.input >= 0 and p.output >= 0 for p in table.prices.values())
