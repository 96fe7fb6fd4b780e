"""Placeholders: typed, numbered, stable, bounded, TTL'd, restored (also across split chunks)."""
from __future__ import annotations

import pytest

from redaction import Finding, StreamRestorer, Vault, VaultStore, mask


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def secret(type_: str = "AWS_ACCESS_KEY") -> Finding:
    return Finding("secret", type_, 0, 0)


def test_placeholders_are_typed_and_numbered_per_type() -> None:
    v = Vault()
    assert v.placeholder(secret(), "A1") == "[SECRET_AWS_ACCESS_KEY_1]"
    assert v.placeholder(Finding("pii", "EMAIL_ADDRESS", 0, 0), "a@b.c") == "[PII_EMAIL_ADDRESS_1]"
    assert v.placeholder(Finding("pii", "EMAIL_ADDRESS", 0, 0), "d@e.f") == "[PII_EMAIL_ADDRESS_2]"
    assert v.placeholder(secret(), "A2") == "[SECRET_AWS_ACCESS_KEY_2]"
    assert v.placeholder(Finding("license", "SPDX:GPL-3.0-only", 0, 0), "x") == "[LICENSE_SPDX_GPL_3_0_ONLY_1]"


def test_same_value_gets_the_same_placeholder() -> None:
    v = Vault()
    assert v.placeholder(secret(), "A1") == v.placeholder(secret(), "A1")


def test_restore_replaces_known_and_keeps_unknown_placeholders() -> None:
    v = Vault()
    p = v.placeholder(secret(), "real-value")
    assert v.restore(f"use {p} and [SECRET_OTHER_9]") == "use real-value and [SECRET_OTHER_9]"


def test_mask_applies_only_mask_actions() -> None:
    text = "a SECRET1 b ada@x.org c"
    findings = [Finding("secret", "GENERIC_SECRET", 2, 9), Finding("pii", "EMAIL_ADDRESS", 12, 21)]
    v = Vault()
    out = mask(text, findings, v, lambda f: "mask" if f.kind == "secret" else "keep")
    assert out == "a [SECRET_GENERIC_SECRET_1] b ada@x.org c"
    assert v.restore(out) == text


def test_entries_expire_after_ttl_and_numbers_are_not_reused() -> None:
    clock = Clock()
    v = Vault(ttl_seconds=10, clock=clock)
    p1 = v.placeholder(secret(), "v1")
    clock.now = 5
    assert v.placeholder(secret(), "v1") == p1  # use refreshes the TTL
    clock.now = 14
    assert v.restore(p1) == "v1"
    clock.now = 30
    assert v.restore(p1) == p1 and len(v) == 0
    assert v.placeholder(secret(), "v2") == "[SECRET_AWS_ACCESS_KEY_2]"


def test_vault_is_bounded() -> None:
    v = Vault(max_entries=3)
    ps = [v.placeholder(secret(), f"value{i}") for i in range(5)]
    assert len(v) == 3
    assert v.restore(ps[0]) == ps[0] and v.restore(ps[4]) == "value4"


def test_vault_store_is_bounded_and_ttld() -> None:
    clock = Clock()
    store = VaultStore(ttl_seconds=10, max_scopes=2, clock=clock)
    a = store.get("alice")
    assert store.get("alice") is a
    store.get("bob")
    store.get("carol")
    assert len(store) == 2 and store.get("alice") is not a
    clock.now = 100
    store.get("dave")
    assert len(store) == 1


def test_reprs_never_show_values() -> None:
    v = Vault()
    v.placeholder(secret(), "hunter2-very-secret")
    r = StreamRestorer(v)
    r.feed("[SECRET_AWS")
    assert "hunter2" not in repr(v) + repr(r) + repr(VaultStore())


def test_could_be_partial_counts_only_placeholder_prefixes() -> None:
    v = Vault()
    assert v.could_be_partial("hello [SECRET_AW") == len("[SECRET_AW")
    assert v.could_be_partial("hello [") == 1
    assert v.could_be_partial("hello [P") == 2
    assert v.could_be_partial("list[0]") == 0
    assert v.could_be_partial("a [SECRET_X_1] b") == 0
    assert v.could_be_partial("x[i") == 0


@pytest.mark.parametrize("split", range(0, 60))
def test_stream_restorer_restores_a_placeholder_split_at_any_position(split: int) -> None:
    v = Vault()
    p1 = v.placeholder(secret(), "AKIA-ONE")
    p2 = v.placeholder(Finding("pii", "EMAIL_ADDRESS", 0, 0), "ada@example.org")
    text = f"key {p1} mail {p2}!"
    assert split <= len(text) + 5
    r = StreamRestorer(v)
    out = r.feed(text[:split]) + r.feed(text[split:]) + r.flush()
    assert out == "key AKIA-ONE mail ada@example.org!"


def test_stream_restorer_char_by_char_never_emits_placeholder_fragments() -> None:
    v = Vault()
    p = v.placeholder(secret(), "VALUE")
    r = StreamRestorer(v)
    pieces = [r.feed(ch) for ch in f"a{p}b[not a placeholder]"] + [r.flush()]
    assert "".join(pieces) == "aVALUEb[not a placeholder]"
    assert not any("SECRET" in piece for piece in pieces)
