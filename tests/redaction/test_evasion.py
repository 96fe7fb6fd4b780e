"""Zero-width characters, JSON/URL escapes and base64 wrapping do not hide a secret."""
from __future__ import annotations

import base64

from redaction import Scanner, Vault, mask


def test_zero_width_space_inside_token_is_found_and_span_covers_original(scanner: Scanner, tok) -> None:
    value = "ghp_" + tok(36)
    hidden = value[:10] + "\u200b" + value[10:20] + "\u2060\ufeff" + value[20:]
    text = f'token = "{hidden}"'
    found = [f for f in scanner.scan(text) if f.kind == "secret"]
    assert [(f.type, text[f.start:f.end]) for f in found] == [("GITHUB_TOKEN", hidden)]


def test_json_unicode_escapes_are_decoded_and_mapped_back(scanner: Scanner, tok) -> None:
    value = "AKIA" + tok(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    escaped = "".join(f"\\u{ord(c):04x}" if i % 3 == 0 else c for i, c in enumerate(value))
    text = f'{{"note": "{escaped}"}}'
    found = [f for f in scanner.scan(text) if f.kind == "secret"]
    assert [(f.type, text[f.start:f.end]) for f in found] == [("AWS_ACCESS_KEY", escaped)]


def test_url_percent_escapes_are_decoded(scanner: Scanner, tok) -> None:
    value = "sk_live_" + tok(24)
    escaped = "".join(f"%{ord(c):02X}" if c in "sk_l" else c for c in value)
    text = f"GET /pay?key={escaped} HTTP/1.1"
    found = [f for f in scanner.scan(text) if f.kind == "secret"]
    assert [(f.type, text[f.start:f.end]) for f in found] == [("STRIPE_KEY", escaped)]


def test_base64_env_file_is_decoded_and_the_whole_blob_is_one_finding(scanner: Scanner, tok) -> None:
    env = f"DEBUG=1\nGITHUB_TOKEN=ghp_{tok(36)}\nPORT=8080\n"
    blob = base64.b64encode(env.encode()).decode()
    text = f'payload: "{blob}"'
    found = scanner.scan(text)
    assert [(f.kind, f.type, f.detector, text[f.start:f.end]) for f in found] == [
        ("secret", "GITHUB_TOKEN", "base64", blob)
    ]


def test_base64_of_ordinary_text_is_not_a_secret(scanner: Scanner) -> None:
    blob = base64.b64encode(b"The quick brown fox jumps over the lazy dog, twice over.").decode()
    assert [f for f in scanner.scan(f"data = {blob}") if f.kind == "secret"] == []


def test_masked_text_rescanned_finds_nothing_new(scanner: Scanner, tok) -> None:
    text = (
        f'GITHUB_TOKEN="ghp_{tok(36)}"\npassword = "{tok(20)}"\n'
        f"mail ada@example.com, card 4111 1111 1111 1111, ip 203.0.113.9\n"
        f"DATABASE_URL=postgres://app:{tok(16)}@db:5432/app\n"
    )
    vault = Vault()
    masked = mask(text, scanner.scan(text), vault, lambda f: "mask")
    assert scanner.scan(masked) == []
    assert vault.restore(masked) == text
