"""The core records of one exchange: who called, what text it carried, what it cost."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as resolved from a virtual key or proxy credential."""

    id: str
    team: str = ""
    roles: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # allowed regions; empty means no restriction
    attributes: tuple[tuple[str, str], ...] = ()
    key_id: str = ""  # which virtual key was used (a short id, never the key itself)

    def as_policy_input(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team": self.team,
            "roles": list(self.roles),
            "regions": list(self.regions),
            "attributes": dict(self.attributes),
            "key_id": self.key_id,
        }


@dataclass(slots=True)
class Segment:
    """One piece of text inside a request body and where it lives in the JSON."""

    path: JsonPath  # locator into the parsed body, e.g. ("messages", 2, "content", 0, "text")
    text: str
    role: str = ""  # system | user | assistant | tool | prefix | suffix | context | input


@dataclass(slots=True)
class Usage:
    """Tokens the provider reported (or that we estimated when it reported none)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def new_exchange_id() -> str:
    """Time-ordered id: 48-bit milliseconds then 80 random bits, hex (UUIDv7-like)."""
    ms = time.time_ns() // 1_000_000
    return f"{ms:012x}{os.urandom(10).hex()}"


@dataclass(slots=True)
class Exchange:
    """One request/response as it crosses the proxy; becomes one audit event."""

    id: str
    principal: Principal | None
    provider: str
    endpoint: str  # chat | responses | completions | embeddings | messages | generate | fim | other
    model: str = ""
    host: str = ""
    path: str = ""
    via: str = "gateway"  # gateway | proxy
    client: str = ""
    stream: bool = False
    segments: list[Segment] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    status: int = 0
    started_ns: int = field(default_factory=time.perf_counter_ns)
    upstream_started_ns: int = 0
    upstream_first_byte_ns: int = 0
    ended_ns: int = 0
    error: str = ""
