"""The cold path batches new lines; a line's findings must not depend on its batch or the cache."""
from __future__ import annotations

import re

from redaction import Scanner
from redaction.pii import build_pii_rules

LINES = [
    "import os",
    "",
    "    token = os.environ['GITHUB_TOKEN']  # read at start-up",
    "NO_PROXY=example.com,::1,localhost,192.168.0.0/16",
    "    .. versionchanged:: 8.2.0",
    "url = 'https://example.com/a%2Fb?x=%41%42'",
    "pass\u200bword = 'not-a-real-one'",
    "    # block_node ::= ALIAS",
    "HTTP_101_SWITCHING_PROTOCOLS = 101",
    "mail a.b@example.co.uk or call +1 212 555 0187",
    "iban: GB82 WEST 1234 5698 7654 32, not xGB82WEST12345698765432",
    "",
]


def test_batch_equals_line_by_line(tok) -> None:
    lines = LINES + [f'GITHUB_TOKEN = "ghp_{tok(36)}"', f'password = "{tok(20)}"', LINES[2]]
    text = "\n".join(lines)
    together = Scanner().scan(text)
    alone = []
    offset = 0
    for line in lines:
        alone.extend((f.kind, f.type, f.start + offset, f.end + offset) for f in Scanner().scan(line))
        offset += len(line) + 1
    assert [(f.kind, f.type, f.start, f.end) for f in together] == sorted(alone, key=lambda x: x[2])
    # Warm (every line cached) gives the same answer as cold.
    scanner = Scanner()
    assert scanner.scan(text) == scanner.scan(text) == together


def test_pii_gates_only_skip_lines_without_results() -> None:
    """A short line a strict anchor/gate rules out gets no result from the recognizer itself."""
    samples = LINES + ["listen [::]:80", "std::vector<int> v;", "fe80::1%eth0", "a[::2]", "de89370400440532013000",
                       "x DE89 3704 0044 0532 0130 00", "::ffff:192.0.2.128", "Foo::new()", "bind ::"]
    for rule in build_pii_rules(("IBAN_CODE", "IP_ADDRESS")):
        strict = [re.compile(a, re.ASCII) for a in rule.strict]
        for line in samples:
            if any(s.search(line) for s in strict) or rule.gate(line):  # type: ignore[misc]
                continue
            assert rule.recognizer.analyze(line, [rule.entity], None) == [], (rule.entity, line)


def test_phone_recognizer_matches_presidio_spans_and_scores() -> None:
    """Skipping presidio's second parse of each match, and sharing verdicts on '+' numbers across
    regions, changes no span, type or score."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from redaction.pii import MatcherOnlyPhoneRecognizer

    samples = LINES + ["call +1 212 555 0187 or 020 7946 0958, fax (212) 555-0100", "+49 30 1234567 / +91 98765 43210",
                       "tel: 212-555-0187 ext. 12, 1-800-555-0199", "+972 2 123 4567; +55 11 91234 5678; 0049 30 1234567",
                       "ids 1234567 2125550187 20 7946 0958 12 34 56", "call +1 (416) 555 0123 x 45 or +44 20 7946 0958",
                       # '+' with an unknown country code: parse retries with each region's prefix.
                       "+011 44 20 7946 0958, +0 212 555 0187, +28 1234 5678, +\uff0b49 30 1234567, 011 44 20 7946 0958",
                       "dev1234@example.com +1 212 555 0187 and +1 212 555 0187 / +91 98765 43210 ext 7"]
    stock, ours = PhoneRecognizer(), MatcherOnlyPhoneRecognizer()
    for line in samples:
        want = sorted((r.entity_type, r.start, r.end, r.score) for r in stock.analyze(line, ["PHONE_NUMBER"]))
        got = sorted((r.entity_type, r.start, r.end, r.score) for r in ours.analyze(line, ["PHONE_NUMBER"]))
        assert got == want, line


def test_remembered_phone_rejections_never_hide_the_same_digits_in_another_context() -> None:
    """A candidate rejected next to a letter (or in one region) is still found where it is valid."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from redaction.pii import MatcherOnlyPhoneRecognizer

    digits = ["2125550187", "212 555 0187", "0123456789", "020 7946 0958", "030 1234567", "98765 43210"]
    contexts = ["ab{}", "{}cd", "x{}y", "'{}'", "({})", "tel:{}", "call {} now", "{}", "#{}#", "+{}", "0{}"]
    stock, ours = PhoneRecognizer(), MatcherOnlyPhoneRecognizer()
    for number in digits:
        for context in contexts:  # rejecting contexts come first, so later ones meet the memory
            line = context.format(number)
            want = sorted((r.start, r.end, r.score) for r in stock.analyze(line, ["PHONE_NUMBER"]))
            got = sorted((r.start, r.end, r.score) for r in ours.analyze(line, ["PHONE_NUMBER"]))
            assert got == want, line
    assert ours._rejected  # the memory was used


def test_multiline_shapes_are_found_when_their_anchor_lines_come_from_the_cache(tok) -> None:
    """Whole-text rules run when a line (fresh or cached) marked their anchor; markers never leak."""
    body = "\n".join(tok(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(4))
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    manifest = f"apiVersion: v1\nKind: Secret\ndata:\n  password: {tok(24, 'abcdefghijklmnopqrstuvwxyz0123456789')}\n"
    xml = f"<apiToken>\n  {tok(32)}\n</apiToken>"
    scanner = Scanner()
    for text in (pem, manifest, xml):
        first = scanner.scan(text)
        assert first and {f.kind for f in first} == {"secret"}
        # Every line is cached now; a longer text around the same lines finds the same shape.
        again = scanner.scan("x = 1\n" + text + "\ny = 2")
        assert [(f.type, f.start - 6, f.end - 6) for f in again] == [(f.type, f.start, f.end) for f in first]


def test_a_guess_on_a_rule_matched_span_never_survives_resolution() -> None:
    """Why the generic pass may skip values a shaped rule matched: _resolve drops them anyway."""
    import random

    from redaction.scanner import _resolve

    rng = random.Random(3)
    for _ in range(3000):
        hits = []
        for _ in range(rng.randint(1, 6)):
            s = rng.randint(0, 40)
            e = s + rng.randint(1, 20)
            hits.append(rng.choice([("secret", "R", s, e, 1.0, "rule"), ("pii", "P", s, e, rng.choice([0.4, 1.0]), "presidio"),
                                    ("secret", "G", s, e, rng.choice([0.7, 1.0]), "keyword"),
                                    ("secret", "H", s, e, 0.8, "entropy"), ("license", "L", s, e, 0.9, "license")]))
        rule = next((h for h in hits if h[5] == "rule"), None)
        if rule is None:
            continue
        at = hits.index(rule)
        for guess in (("secret", "G", rule[2], rule[3], 1.0, "keyword"), ("secret", "H", rule[2], rule[3], 0.9, "entropy"),
                      ("secret", "B", rule[2], rule[3], 1.0, "base64")):
            # The line's rule hits come before its generic hits.
            with_guess = hits[:] + [guess] if rng.random() < 0.5 else hits[:at + 1] + [guess] + hits[at + 1:]
            assert _resolve(with_guess) == _resolve(hits)
