"""The policy's answer for one exchange, as the proxy applies it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["mask", "block", "keep"]

# Until a policy says otherwise every secret and PII is masked; license markers are reported.
DEFAULT_KIND_ACTIONS: dict[str, Action] = {"secret": "mask", "pii": "mask", "license": "keep"}


@dataclass(frozen=True, slots=True)
class Reason:
    rule: str  # e.g. "residency.region_not_allowed"
    message: str  # human text, safe to show the client (never contains finding values)


@dataclass(frozen=True, slots=True)
class Route:
    """Where to send the request instead of the upstream the client asked for."""

    endpoint: str  # name of the endpoint in policy data, e.g. "openai-eu"
    upstream: str  # scheme://host[:port]
    region: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    allow: bool = True
    reasons: tuple[Reason, ...] = ()
    actions: dict[str, Action] = field(default_factory=dict)  # finding type -> action
    kind_actions: dict[str, Action] = field(default_factory=lambda: dict(DEFAULT_KIND_ACTIONS))
    route: Route | None = None
    max_tokens: int | None = None
    audit_level: Literal["full", "metadata"] = "full"
    region: str = ""
    revision: str = ""

    def action_for(self, kind: str, type_: str) -> Action:
        """The action for one finding: its type's, else its kind's, else mask."""
        return self.actions.get(type_) or self.kind_actions.get(kind) or "mask"

    def as_audit(self) -> dict[str, Any]:
        return {
            "allow": self.allow,
            "reasons": [{"rule": r.rule, "message": r.message} for r in self.reasons],
            "route": self.route.endpoint if self.route else "",
            "max_tokens": self.max_tokens,
            "audit_level": self.audit_level,
            "region": self.region,
            "revision": self.revision,
        }
