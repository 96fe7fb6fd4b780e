"""PII through presidio-analyzer's own pattern recognizers, run offline on candidate lines.

No NLP engine is needed: pattern recognizers accept `nlp_artifacts=None`, and their
validation (Luhn, IBAN checksum, SSN invalidation, phonenumbers parsing, ...) runs as shipped.
The fast pass only decides WHICH lines a recognizer sees. tldextract (email validation) is
given the bundled public-suffix snapshot, no URLs and no cache directory, so it never fetches
and never writes.
"""
from __future__ import annotations

from dataclasses import dataclass

import tldextract
from presidio_analyzer import EntityRecognizer
from presidio_analyzer.predefined_recognizers import (
    AbaRoutingRecognizer,
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    MacAddressRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsItinRecognizer,
    UsSsnRecognizer,
)


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's EmailRecognizer with a tldextract that cannot touch the network or disk."""

    def __init__(self) -> None:
        super().__init__()
        self._tld = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    def validate_result(self, pattern_text: str) -> bool:  # noqa: D102 - presidio hook
        return self._tld(pattern_text).fqdn != ""


@dataclass(frozen=True, slots=True)
class PiiRule:
    """A presidio recognizer plus the anchors that make a line worth showing it."""

    entity: str
    recognizer: EntityRecognizer
    anchors: tuple[str, ...]  # Hyperscan regexes (single line)


# Anchors are deliberately looser than the recognizers: they only choose lines.
_ANCHORS: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": (r"[A-Za-z0-9._%+\-]@[A-Za-z0-9\-]+\.[A-Za-z0-9\-]",),
    "PHONE_NUMBER": (r"\d(?:[\s().\-/]{0,3}\d){6}",),
    "CREDIT_CARD": (r"\d(?:[\s\-]?\d){11}",),
    "IBAN_CODE": (r"[A-Za-z]{2}\d{2}[ \-]?[A-Za-z0-9]{4}",),
    "US_SSN": (r"\d{3}[\s.\-]?\d{2}[\s.\-]?\d{4}",),
    "US_ITIN": (r"9\d{2}[\s.\-]?[5-9]\d[\s.\-]?\d{4}",),
    "IP_ADDRESS": (r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{1,4}",
                   r"::"),
    "MAC_ADDRESS": (r"[0-9A-Fa-f]{2}[:\-][0-9A-Fa-f]{2}[:\-][0-9A-Fa-f]{2}", r"[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\."),
    "CRYPTO": (r"[13][a-km-zA-HJ-NP-Z1-9]{25}", r"bc1[a-z0-9]{20}"),
    "UK_NHS": (r"\d{3}[\s\-]?\d{3}[\s\-]?\d{4}",),
    "ABA_ROUTING_NUMBER": (r"[0123678]\d{3}-?\d{4}-?\d",),
    "URL": (r"https?://", r"www\.", r"[a-z0-9\-]\.(?:com|org|net|io|gov|edu)\b"),
}

_FACTORIES = {
    "EMAIL_ADDRESS": OfflineEmailRecognizer,
    "PHONE_NUMBER": PhoneRecognizer,
    "CREDIT_CARD": CreditCardRecognizer,
    "IBAN_CODE": IbanRecognizer,
    "US_SSN": UsSsnRecognizer,
    "US_ITIN": UsItinRecognizer,
    "IP_ADDRESS": IpRecognizer,
    "MAC_ADDRESS": MacAddressRecognizer,
    "CRYPTO": CryptoRecognizer,
    "UK_NHS": NhsRecognizer,
    "ABA_ROUTING_NUMBER": AbaRoutingRecognizer,
    "URL": UrlRecognizer,
}

SUPPORTED_PII = tuple(_FACTORIES)


def build_pii_rules(entities: tuple[str, ...]) -> list[PiiRule]:
    """One rule per requested presidio entity; unknown names raise (a typo must not go quiet)."""
    rules = []
    for entity in entities:
        if entity not in _FACTORIES:
            raise ValueError(f"unsupported PII entity {entity!r}; supported: {', '.join(SUPPORTED_PII)}")
        rules.append(PiiRule(entity, _FACTORIES[entity](), _ANCHORS[entity]))
    return rules
