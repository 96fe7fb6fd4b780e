"""PII through presidio's recognizers (with their validators) and license markers."""
from __future__ import annotations

import pytest

from redaction import Scanner, ScannerConfig


def pii(scanner: Scanner, text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start:f.end]) for f in scanner.scan(text) if f.kind == "pii"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Contact: jane.doe@example.org for access", ("EMAIL_ADDRESS", "jane.doe@example.org")),
        ("card 4111 1111 1111 1111 on file", ("CREDIT_CARD", "4111 1111 1111 1111")),
        ("IBAN GB82 WEST 1234 5698 7654 32 please", ("IBAN_CODE", "GB82 WEST 1234 5698 7654 32")),
        ("my SSN is 536-22-8345.", ("US_SSN", "536-22-8345")),
        ("server at 203.0.113.54 is down", ("IP_ADDRESS", "203.0.113.54")),
        ("call me at (212) 555-0187 tomorrow", ("PHONE_NUMBER", "(212) 555-0187")),
    ],
)
def test_pii_type_is_found(scanner: Scanner, text: str, expected: tuple[str, str]) -> None:
    assert expected in pii(scanner, text)


def test_credit_card_failing_luhn_is_not_reported(scanner: Scanner) -> None:
    assert ("CREDIT_CARD", "4111 1111 1111 1112") not in pii(scanner, "card 4111 1111 1111 1112 on file")


def test_iban_with_bad_checksum_is_not_reported(scanner: Scanner) -> None:
    assert [t for t, _ in pii(scanner, "IBAN GB83 WEST 1234 5698 7654 32")] != ["IBAN_CODE"]


def test_pii_types_are_configurable(tok) -> None:
    only_email = Scanner(ScannerConfig(pii_types=("EMAIL_ADDRESS",), secrets=False, license=False))
    found = only_email.scan("jane@example.org 203.0.113.54")
    assert [(f.kind, f.type) for f in found] == [("pii", "EMAIL_ADDRESS")]


def test_unknown_pii_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="NOPE"):
        Scanner(ScannerConfig(pii_types=("NOPE",)))


def test_config_from_dict_round_trips_and_rejects_unknown_keys() -> None:
    cfg = ScannerConfig.from_dict({"pii": False, "pii_types": ["EMAIL_ADDRESS"], "cache_size": 10})
    assert cfg.pii is False and cfg.pii_types == ("EMAIL_ADDRESS",) and cfg.cache_size == 10
    with pytest.raises(ValueError):
        ScannerConfig.from_dict({"pii_typo": 1})


def licenses(scanner: Scanner, text: str) -> list[str]:
    return [f.type for f in scanner.scan(text) if f.kind == "license"]


def test_spdx_identifier_is_reported_with_its_id(scanner: Scanner) -> None:
    assert licenses(scanner, "// SPDX-License-Identifier: GPL-3.0-only\nint x;") == ["SPDX:GPL-3.0-only"]
    assert licenses(scanner, "# SPDX-License-Identifier: Apache-2.0 OR MIT") == ["SPDX:Apache-2.0 OR MIT"]


def test_gpl_header_text_is_reported(scanner: Scanner) -> None:
    header = (
        "# This program is free software: you can redistribute it and/or modify\n"
        "# it under the terms of the GNU Affero General Public License as published by\n"
        "# the Free Software Foundation, either version 3 of the License, or\n"
    )
    types = licenses(scanner, header)
    assert "AGPL_HEADER" in types and "GPL_HEADER" in types


@pytest.mark.parametrize(
    "text",
    [
        "/* Copyright (c) 2024 Acme Corp. Proprietary and confidential. */",
        "# Unauthorized copying of this file, via any medium is strictly prohibited",
        "// Acme Inc. All rights reserved. Confidential.",
    ],
)
def test_proprietary_notice_is_reported(scanner: Scanner, text: str) -> None:
    assert licenses(scanner, text) == ["PROPRIETARY_NOTICE"]


def test_ordinary_code_has_no_license_findings(scanner: Scanner) -> None:
    assert licenses(scanner, "def general_public(license_key):\n    return confidential_flag\n") == []


@pytest.mark.parametrize("filler", ["x = 1; ", "naïve café → ", "1 2 3 4 5 "])
def test_pii_in_a_very_long_line_is_found_at_the_right_offsets(scanner: Scanner, filler: str) -> None:
    # Long lines are analysed in windows around candidates; spans must still index the line.
    text = filler * 400 + "mail jane.doe@example.org and card 4111 1111 1111 1111 " + filler * 400
    found = pii(scanner, text)
    assert ("EMAIL_ADDRESS", "jane.doe@example.org") in found
    assert ("CREDIT_CARD", "4111 1111 1111 1111") in found
