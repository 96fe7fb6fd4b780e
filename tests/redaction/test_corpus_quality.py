"""Quality floors on ../shared/corpus (read at run time, never copied into the repo).

- secret recall >= 95% over gitleaks + trufflehog positives;
- false positives <= 2% of firm clean records (lock-file windows included);
- PII: per pattern type, recall >= stock presidio's on the same records, precision >= 85%.
The counting rules live in bench/redaction_quality.py so the report and the tests agree.
"""
from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from .conftest import CORPUS, REPO


def _quality_module() -> ModuleType:
    if not (CORPUS / "README.md").exists():
        pytest.fail(f"labeled corpus not found at {CORPUS} (expected <repo>/../shared/corpus)")
    spec = importlib.util.spec_from_file_location("redaction_quality", REPO / "bench" / "redaction_quality.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def q() -> ModuleType:
    return _quality_module()


@pytest.fixture(scope="module")
def secret_report(q: ModuleType) -> dict:
    spans_of, _ = q.ours()
    return q.secret_quality(spans_of, q.secret_records())


@pytest.fixture(scope="module")
def pii_reports(q: ModuleType) -> tuple[dict, dict]:
    records = q.pii_records()
    _, ours = q.ours()
    return q.pii_quality(ours, records), q.pii_quality(q.stock_presidio(), records)


def test_secret_recall_over_gitleaks_and_trufflehog_is_at_least_95_percent(secret_report: dict) -> None:
    found, total = secret_report["floor_recall"]
    assert total > 7000
    assert found / total >= 0.95, f"recall {found}/{total}"


def test_false_positives_on_firm_clean_records_are_at_most_2_percent(secret_report: dict) -> None:
    flagged, total = secret_report["fp_firm"]
    assert total > 800
    assert flagged / total <= 0.02, [r["id"] for r in secret_report["false_pos"]]


def test_lock_files_are_never_flagged(q: ModuleType) -> None:
    spans_of, _ = q.ours()
    records = q.load("clean_lockfiles.jsonl")
    flagged = [r["id"] for r in records if spans_of(r["text"])]
    assert len(records) > 500 and flagged == []


def test_pii_recall_per_type_is_at_least_stock_presidio(pii_reports: tuple[dict, dict]) -> None:
    ours, stock = pii_reports
    worse = {}
    for type_, c in ours.items():
        if c["gold"] == 0:
            continue
        r_ours, r_stock = c["found"] / c["gold"], stock[type_]["found"] / stock[type_]["gold"]
        if r_ours < r_stock:
            worse[type_] = (round(r_ours, 3), round(r_stock, 3))
    assert worse == {}, f"types below stock recall (ours, stock): {worse}"


def test_pii_precision_per_type_is_at_least_85_percent(pii_reports: tuple[dict, dict]) -> None:
    ours, _ = pii_reports
    low = {t: round(c["correct"] / c["pred"], 3) for t, c in ours.items() if c["pred"] and c["correct"] / c["pred"] < 0.85}
    assert low == {}, f"types below 85% precision: {low}"
