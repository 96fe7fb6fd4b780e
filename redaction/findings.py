"""What a detector found: a typed span in one piece of text. Never holds the value itself."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["secret", "pii", "license"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected span in the scanned text.

    `start`/`end` index the original text (Python str offsets, end exclusive). The value is
    `text[start:end]`; it is deliberately not a field, so a Finding can be logged or audited
    without leaking what it points at.
    """

    kind: Kind
    type: str  # e.g. "AWS_ACCESS_KEY", "EMAIL_ADDRESS", "SPDX:GPL-3.0", "PROPRIETARY_NOTICE"
    start: int
    end: int
    score: float = 1.0
    detector: str = ""
