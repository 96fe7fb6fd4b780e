"""`customs budgets`: usage against limits as a table."""
import io
from argparse import Namespace

from proxy.budgets import BudgetConfig, BudgetRequest, open_ledger
from proxy.budgets.cli import run


def test_budgets_command_prints_usage_against_limits(tmp_path):
    limits = tmp_path / "budgets.yaml"
    limits.write_text(
        "budgets:\n"
        "  - {name: team-payments-daily, scope: team, match: payments, window: daily, tokens: 2000000}\n"
        "  - {name: user-default-monthly-usd, scope: user, match: '*', window: monthly, usd: 50}\n")
    prices = tmp_path / "providers.yaml"
    prices.write_text("prices:\n  '*': {input: 1, output: 2}\n")
    config = tmp_path / "customs.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\nbudgets:\n  limits_file: {limits}\n  prices_file: {prices}\n")
    bc = BudgetConfig.from_dict({"limits_file": str(limits), "prices_file": str(prices)})
    ledger = open_ledger(bc, tmp_path / "data")
    res = ledger.reserve(BudgetRequest("alice", "payments", "k1", "openai", "gpt-4o", 1000, 500))
    ledger.settle(res, 123_456, 1_000)
    ledger.close()

    out = io.StringIO()
    assert run(Namespace(config=str(config), user=None, team=None), out) == 0
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["BUDGET", "SUBJECT", "WINDOW"]
    team_line = next(line for line in lines if line.startswith("team-payments-daily"))
    assert "team:payments" in team_line and "2,000,000" in team_line and "124,456" in team_line
    user_line = next(line for line in lines if line.startswith("user-default-monthly-usd"))
    assert "user:alice" in user_line and "$50.0000" in user_line and "$0.1255" in user_line

    out = io.StringIO()
    assert run(Namespace(config=str(config), user="alice", team=None), out) == 0
    assert "team-payments-daily" not in out.getvalue() and "user:alice" in out.getvalue()


def test_budgets_command_reports_a_broken_limits_file(tmp_path, capsys):
    limits = tmp_path / "budgets.yaml"
    limits.write_text("budgets:\n  - {name: x, scope: planet, tokens: 1}\n")
    config = tmp_path / "customs.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\nbudgets:\n  limits_file: {limits}\n")
    assert run(Namespace(config=str(config), user=None, team=None), io.StringIO()) == 2
    assert "scope" in capsys.readouterr().err


def test_add_parser_registers_the_budgets_subcommand():
    import argparse

    from proxy.budgets.cli import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["budgets", "--team", "payments", "--config", "c.yaml"])
    assert (args.team, args.user, args.config, args.func) == ("payments", None, "c.yaml", run)
