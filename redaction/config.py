"""Scanner configuration (composed by the lead into the one config object)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

# presidio entity names reported by default: the pattern recognizers that stay precise on
# code and prose (URL and DATE_TIME are not: every import and timestamp would be "PII").
DEFAULT_PII_TYPES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "CRYPTO",
)


@dataclass(frozen=True, slots=True)
class ScannerConfig:
    """What the Scanner looks for and how much it remembers."""

    secrets: bool = True
    pii: bool = True
    license: bool = True
    pii_types: tuple[str, ...] = DEFAULT_PII_TYPES
    # presidio scores: validated matches (Luhn, IBAN checksum, email domain) score 1.0,
    # phonenumbers matches 0.4, IPv6 '::' forms 0.1, unformatted SSN shapes 0.05. At 0.05 every
    # type keeps precision >= 85% on the corpus (lowest: US_SSN ~90%) and recall >= stock presidio;
    # 0.35 trades SSN/IPv6 recall for precision. Finding.score carries the value for policy.
    pii_min_score: float = 0.05
    cache_size: int = 50_000
    # A .env file with one key is ~30 bytes -> 40 base64 chars; shorter blobs are not decoded.
    decode_base64_min_len: int = 40

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """Build from a plain mapping (YAML/JSON config); unknown keys raise."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown redaction config keys: {sorted(unknown)}")
        kwargs = dict(d)
        if "pii_types" in kwargs:
            kwargs["pii_types"] = tuple(kwargs["pii_types"])
        return cls(**kwargs)
