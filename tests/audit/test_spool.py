"""The durable spool: framing, torn tails, bounds and unwritable storage."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from audit import AuditConfig, SpoolUnavailable
from audit.auditor import Auditor
from audit.spool import Spool, decode_line, encode_record
from tests.audit.conftest import make_event


def test_record_line_round_trips_and_detects_damage() -> None:
    line = encode_record(b"e", b'{"a":1}')
    assert line.endswith(b"\n")
    assert decode_line(line[:-1]) == (b"e", b'{"a":1}')
    damaged = line[:-3] + b"2}"
    assert decode_line(damaged[:-1]) is None


def test_appended_records_are_read_back_in_batches(tmp_path: Path) -> None:
    sp = Spool(tmp_path, 1 << 20, 50)
    try:
        for i in range(10):
            sp.append(b"e", b'{"i":%d}' % i)
        b1 = sp.read_range(sp.active, 0, None, 4)
        assert b1.count == 4 and b1.records[b"e"][0] == b'{"i":0}'
        b2 = sp.read_range(sp.active, b1.end, None, 100)
        assert b2.count == 6 and b2.records[b"e"][-1] == b'{"i":9}'
        again = sp.read_range(sp.active, b1.start, b1.end, 1 << 30)
        assert again.records == b1.records and again.token == b1.token
    finally:
        sp.close()


def test_torn_tail_and_corrupt_line_are_skipped_not_shipped(tmp_path: Path) -> None:
    sp = Spool(tmp_path, 1 << 20, 50)
    sp.append(b"e", b'{"i":1}')
    seg = sp.active
    sp.close()
    with open(tmp_path / seg, "ab") as f:
        f.write(b"e00000000 garbage\n")  # bad CRC, as after a power loss
        f.write(encode_record(b"e", b'{"i":2}'))
        f.write(b"e1234")  # torn: no newline
    sp = Spool(tmp_path, 1 << 20, 50)
    try:
        b = sp.read_range(seg, 0, None, 100)
        assert b.records[b"e"] == [b'{"i":1}', b'{"i":2}']
        assert b.corrupt == 1
    finally:
        sp.close()


def test_second_owner_of_a_spool_is_refused(tmp_path: Path) -> None:
    sp = Spool(tmp_path, 1 << 20, 50)
    try:
        with pytest.raises(RuntimeError, match="owned by another process"):
            Spool(tmp_path, 1 << 20, 50)
    finally:
        sp.close()


def _auditor(tmp_path: Path, **cfg: object) -> Auditor:
    # No store and no shipper: these tests are about the spool in front of it.
    return Auditor(AuditConfig(**cfg), tmp_path, store_factory=lambda: None)  # type: ignore[arg-type,return-value]


def test_full_spool_fails_closed(tmp_path: Path) -> None:
    a = _auditor(tmp_path, spool_max_bytes=4096)
    try:
        with pytest.raises(SpoolUnavailable, match="full"):
            for i in range(100):
                a.record(make_event(i))
        assert a.metrics()["spool_bytes"] <= 4096
    finally:
        a.spool.close()


def test_unwritable_spool_fails_closed(tmp_path: Path) -> None:
    a = _auditor(tmp_path)
    try:
        a.record(make_event(0))
        _make_spool_fd_unwritable(a)
        with pytest.raises(SpoolUnavailable, match="not writable"):
            a.record(make_event(1))
        assert a.chain_id and a.metrics()["spool_events_pending"] == 1
    finally:
        a.spool.close()


def test_unwritable_spool_keeps_serving_when_fail_open(tmp_path: Path) -> None:
    a = _auditor(tmp_path, fail_closed=False, spool_max_bytes=1 << 20)
    try:
        _make_spool_fd_unwritable(a)
        a.record(make_event(1))  # must not raise
        a.record(make_event(2))
        assert a.metrics()["spool_dropped_total"] == 2
    finally:
        a.spool.close()


def _make_spool_fd_unwritable(a: Auditor) -> None:
    """Point the spool's descriptor at /dev/full (ENOSPC) and make rotation fail too."""
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, a.spool._fd)
    os.close(full)
    # After a failed write the spool tries a fresh segment; on a full disk that fails as well.
    def broken_rotate() -> None:
        raise OSError(28, "No space left on device")

    a.spool._open_new_segment = broken_rotate  # type: ignore[method-assign]


def test_shipped_segments_are_deleted_so_the_spool_stays_bounded(tmp_path: Path) -> None:
    from audit import open_auditor

    a = open_auditor(AuditConfig(spool_max_bytes=1 << 20, batch_max_events=300, fsync_interval_ms=10), tmp_path)
    try:
        for round_ in range(4):  # 4 x 300 events of ~1 KB: several times the 1 MB bound in total
            for i in range(300):
                a.record(make_event(round_ * 1000 + i, prompt="p" * 800))
            assert a.flush(20), a.last_ship_error
        assert len(a.spool.segments()) <= 2
        assert a.metrics()["spool_bytes"] <= a.spool.segment_max_bytes
        assert a.store().select("SELECT count() AS n FROM events")[0]["n"] == 1200
    finally:
        a.close()
