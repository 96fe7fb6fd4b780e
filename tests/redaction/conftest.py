"""Shared fixtures: one Scanner per session (building engines takes a moment) and token makers.

Test secrets are generated at run time from a seeded RNG, so no realistic credential string
is ever committed; corpus strings are read from ../shared/corpus at run time only.
"""
from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from redaction import Scanner

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / "../shared/corpus").resolve()

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


@pytest.fixture(scope="session")
def scanner() -> Scanner:
    """The default-config Scanner shared by the tests."""
    return Scanner()


class TokenMaker:
    """Random strings over an alphabet, reproducible per test."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def __call__(self, n: int, alphabet: str = ALNUM) -> str:
        # Guarantee mixed classes so the value cannot be mistaken for a word.
        while True:
            s = "".join(self._rng.choice(alphabet) for _ in range(n))
            if alphabet is not ALNUM or (any(c.isdigit() for c in s) and any(c.isupper() for c in s)
                                         and any(c.islower() for c in s)):
                return s


@pytest.fixture
def tok() -> TokenMaker:
    """A seeded random-token maker."""
    return TokenMaker(1234)
