"""Scanning never touches the network, and one Scanner is safe to share between threads."""
from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from redaction import Scanner, ScannerConfig


def test_building_and_scanning_make_no_network_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    scanner = Scanner(ScannerConfig(cache_size=10))
    found = scanner.scan("write to someone@example.co.uk or visit https://example.com, ip 198.51.100.7")
    assert ("pii", "EMAIL_ADDRESS") in [(f.kind, f.type) for f in found]


def test_concurrent_scans_agree_with_a_serial_scan(tok) -> None:
    scanner = Scanner(ScannerConfig(cache_size=64))  # small cache: forces evictions under load
    texts = [f'line {i}\ntoken = "ghp_{tok(36)}"\nmail u{i}@example.com\n' + "x = 1\n" * i for i in range(40)]
    serial = [Scanner().scan(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(scanner.scan, texts * 5))
    assert parallel == serial * 5


def test_cache_is_bounded(tok) -> None:
    scanner = Scanner(ScannerConfig(cache_size=50))
    scanner.scan("\n".join(f"value_{i} = compute({i}, {tok(12)})" for i in range(500)))
    assert len(scanner._cache) <= 50


def test_repeated_scan_of_edited_text_matches_a_fresh_scan(tok) -> None:
    lines = [f"def f{i}(x):\n    return x + {i}" for i in range(50)]
    scanner = Scanner()
    scanner.scan("\n".join(lines))
    lines[20] = f'    api_key = "{tok(24)}"'
    edited = "\n".join(lines)
    assert scanner.scan(edited) == Scanner().scan(edited)
    assert any(f.kind == "secret" for f in scanner.scan(edited))
