"""Hash chain: verify passes on untouched data and names the first broken link after tampering."""
from __future__ import annotations

from audit import Auditor
from audit.chain import BrokenLink
from tests.audit.conftest import make_event


def _record(auditor: Auditor, n: int) -> None:
    for i in range(n):
        auditor.record(make_event(i))
    assert auditor.flush(10)


def _first_broken(auditor: Auditor) -> BrokenLink:
    res = auditor.verify()
    assert not res.ok and res.first_broken is not None
    return res.first_broken


def _mutate(auditor: Auditor, assignment: str, seq: int) -> None:
    auditor.store().execute(
        f"ALTER TABLE events UPDATE {assignment} WHERE chain_seq = {seq} SETTINGS mutations_sync = 2"
    )


def test_untouched_chain_verifies(auditor: Auditor) -> None:
    _record(auditor, 25)
    res = auditor.verify()
    assert res.ok and res.events == 25 and res.chains == 1 and res.first_broken is None


def test_record_fills_chain_links(auditor: Auditor) -> None:
    a, b = make_event(1), make_event(2)
    auditor.record(a)
    auditor.record(b)
    assert a.prev_hash == "" and b.prev_hash == a.hash and len(b.hash) == 64
    assert (a.chain_seq, b.chain_seq) == (0, 1) and a.chain_id == b.chain_id == auditor.chain_id


def test_tampered_metadata_is_detected_at_that_event(auditor: Auditor) -> None:
    _record(auditor, 20)
    _mutate(auditor, "cost_usd = 0", 12)
    b = _first_broken(auditor)
    assert b.chain_seq == 12 and "hash mismatch" in b.reason


def test_tampered_prompt_text_is_detected(auditor: Auditor) -> None:
    _record(auditor, 10)
    _mutate(auditor, "prompt = 'nothing to see here'", 4)
    b = _first_broken(auditor)
    assert b.chain_seq == 4 and "prompt" in b.reason


def test_deleted_event_is_detected(auditor: Auditor) -> None:
    _record(auditor, 10)
    auditor.store().execute("ALTER TABLE events DELETE WHERE chain_seq = 6 SETTINGS mutations_sync = 2")
    b = _first_broken(auditor)
    assert b.chain_seq == 7 and "missing" in b.reason


def test_text_expired_by_ttl_still_verifies_but_early_removal_does_not(auditor: Auditor) -> None:
    from datetime import UTC, datetime, timedelta

    auditor.record(make_event(0, time=datetime.now(UTC) - timedelta(days=100), prompt="old prompt"))
    for i in range(1, 4):
        auditor.record(make_event(i))
    assert auditor.flush(10)
    auditor.store().execute("OPTIMIZE TABLE events FINAL")  # applies the 90-day text TTL now
    assert auditor.store().select("SELECT prompt FROM events WHERE chain_seq = 0")[0]["prompt"] == ""
    res = auditor.verify()
    assert res.ok and res.text_expired >= 1 and res.events == 4
    _mutate(auditor, "response = ''", 2)  # a recent event's text vanishing is tampering
    b = _first_broken(auditor)
    assert b.chain_seq == 2 and "removed before its retention" in b.reason
