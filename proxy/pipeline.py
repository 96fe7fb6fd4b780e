"""Steps 2-6 of one exchange, free of mitmproxy: parse, detect, decide, mask, reserve.

The mitmproxy addon (proxy/addon.py) feeds it a parsed body and turns a Refusal into an error
response in the provider's own format.
"""
from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from proxy.budgets import BudgetExceeded, BudgetRequest, LedgerUnavailable, Reservation
from proxy.decision import Decision
from proxy.exchange import Exchange, Principal
from proxy.policy import PolicyUnavailable
from proxy.providers.base import RequestInfo
from proxy.routing import Target
from proxy.services import Services
from redaction import Finding, mask

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
CHARS_PER_TOKEN = 4  # a deliberately cheap estimate; the provider's usage settles the ledger
AMPLE_FACTOR = 4  # a budget with this many times a request's need left cannot change its decision
AMPLE_RECHECK_S = 1.0


def encode_json(doc: Any) -> bytes:
    """Compact UTF-8 JSON for a rewritten body (orjson: several times the stdlib's speed)."""
    try:
        return orjson.dumps(doc)
    except (orjson.JSONEncodeError, TypeError):  # integers beyond 64 bits: the stdlib copes
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


class Refusal(Exception):
    """Customs answers the request itself; `message` is safe to show (never a finding value)."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        # How far inspection got (its policy input and decision belong in the audit record).
        self.inspection: Inspection | None = None


@dataclass(slots=True)
class Inspection:
    """What the pipeline learned and decided about one request."""

    info: RequestInfo
    findings: list[tuple[int, Finding]] = field(default_factory=list)  # (segment index, finding)
    counts: dict[str, int] = field(default_factory=dict)
    policy_input: dict[str, Any] = field(default_factory=dict)
    decision: Decision = field(default_factory=Decision)
    changed: bool = False  # the body was rewritten (masking or a max_tokens cap)
    reservation: Reservation | None = None
    input_estimate: int = 0


def parse_json_body(raw: bytes) -> Any:
    """The request body as JSON, or a Refusal saying precisely what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(400, f"request body is not valid UTF-8 (byte {exc.start})", "invalid_encoding") from None
    try:
        doc = json.loads(text)
        if _SURROGATE_ESCAPE.search(text):
            # JSON lets \ud800 stand alone; such text is not Unicode, cannot be scanned reliably
            # and no provider accepts it. Valid pairs decode to one character and pass this.
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        return doc
    except UnicodeEncodeError:
        raise Refusal(400, "request body contains an unpaired UTF-16 surrogate escape (invalid Unicode)",
                      "invalid_encoding") from None
    except RecursionError:
        raise Refusal(400, "request body is nested too deeply to inspect", "invalid_json") from None
    except json.JSONDecodeError as exc:
        raise Refusal(400, f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                      "invalid_json") from None


class Pipeline:
    def __init__(self, services: Services) -> None:
        self.s = services
        # Budgets seen far from their limit recently, per subject: the policy input needs no
        # ledger read for them for AMPLE_RECHECK_S (the reservation itself is still atomic).
        self._ample_until: dict[tuple[str, ...], tuple[float, bool]] = {}

    def inspect(self, ex: Exchange, target: Target, principal: Principal, method: str,
                query: Any, body: Any, headers: Any) -> Inspection:
        """Run detect, decide, mask and reserve on a parsed request; raise Refusal to block it."""
        holder: list[Inspection] = []
        try:
            return self._inspect(ex, target, principal, method, query, body, headers, holder)
        except Refusal as r:
            r.inspection = holder[0] if holder else None
            raise

    def _inspect(self, ex: Exchange, target: Target, principal: Principal, method: str,
                 query: Any, body: Any, headers: Any, holder: list[Inspection]) -> Inspection:
        try:
            info = target.adapter.parse(method, target.path, query, body)
        except ValueError as exc:
            raise Refusal(400, str(exc), "invalid_request") from None
        if info is None:
            if body is None:
                # A bodiless call (GET /models, health) carries no prompt text: nothing to scan.
                info = RequestInfo(endpoint="other", scan_required=False)
            else:
                raise Refusal(404, f"Customs does not know the {target.provider} endpoint {method} {target.path}; "
                              "it refuses to forward requests it cannot inspect", "unknown_endpoint")
        ex.endpoint, ex.model, ex.stream = info.endpoint, info.model, info.stream
        repo = info.repo or headers.get("x-customs-repo") or None
        insp = Inspection(info=info)
        holder.append(insp)
        scanner = self.s.scanner
        counts: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        chars = 0
        for i, seg in enumerate(info.segments):
            chars += len(seg.text)
            for f in scanner.scan(seg.text):
                insp.findings.append((i, f))
                counts[f.type] += 1
                kinds[f.kind] += 1
        insp.counts = dict(counts)
        insp.input_estimate = chars // CHARS_PER_TOKEN + 1
        remaining = self._remaining(principal, target, info, insp.input_estimate)
        insp.policy_input = {
            "principal": principal.as_policy_input(),
            "request": {
                "provider": target.adapter.name,  # a named compat server is "compat" to policy
                "endpoint": info.endpoint,
                "model": info.model,
                "host": target.logical_host,
                "path": target.path,
                "via": target.via,
                "client": ex.client,
                "stream": info.stream,
                "max_tokens": info.max_tokens,
                "estimated_input_tokens": insp.input_estimate,
                "repo": repo,
                "file_paths": list(info.file_paths),
            },
            "findings": {"counts": dict(counts), "kinds": {k: kinds.get(k, 0) for k in ("secret", "pii", "license")}},
            "budget": remaining,
            "now": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        try:
            decision = self.s.policy.decide(insp.policy_input)
        except PolicyUnavailable as exc:
            if self.s.policy_config.fail_closed:
                raise Refusal(503, f"policy engine unavailable, request not forwarded ({exc})", "policy_unavailable") from None
            decision = Decision(reasons=())
        insp.decision = decision
        if not decision.allow:
            why = "; ".join(r.message for r in decision.reasons) or "denied by policy"
            rule = decision.reasons[0].rule if decision.reasons else "policy.deny"
            status = 429 if rule.startswith("budget.") else 403
            raise Refusal(status, f"Customs policy denied this request: {why}", rule)
        blocked = sorted({f.type for _, f in insp.findings if decision.action_for(f.kind, f.type) == "block"})
        if blocked:
            raise Refusal(403, "Customs blocked this request: it contains " + ", ".join(blocked)
                          + " which policy does not allow to leave", "blocked_content")
        if insp.findings:
            self._mask(info, insp, principal, decision)
        # A cap only matters below what the request may use anyway; writing a larger one into a
        # body without max_tokens could exceed the model's own limit.
        effective_max = info.max_tokens or self.s.budget_config.default_max_tokens
        if decision.max_tokens is not None and decision.max_tokens < effective_max:
            target.adapter.set_max_tokens(info.endpoint, body, decision.max_tokens)
            info.max_tokens = decision.max_tokens
            insp.changed = True
        if info.scan_required:
            insp.reservation = self._reserve(principal, target, info, insp.input_estimate)
        return insp

    def _mask(self, info: RequestInfo, insp: Inspection, principal: Principal, decision: Decision) -> None:
        vault = self.s.vaults.get(principal.id)
        by_segment: dict[int, list[Finding]] = {}
        for i, f in insp.findings:
            by_segment.setdefault(i, []).append(f)
        for i, fs in by_segment.items():
            seg = info.segments[i]
            masked = mask(seg.text, fs, vault, lambda f: decision.action_for(f.kind, f.type))
            if masked != seg.text:
                seg.text = masked
                insp.changed = True

    def _budget_request(self, principal: Principal, target: Target, info: RequestInfo, input_tokens: int) -> BudgetRequest:
        return BudgetRequest(
            user=principal.id, team=principal.team, key_id=principal.key_id, provider=target.provider,
            model=info.model, input_tokens=input_tokens,
            max_output_tokens=info.max_tokens or self.s.budget_config.default_max_tokens,
        )

    def _remaining(self, principal: Principal, target: Target, info: RequestInfo, estimate: int) -> dict[str, Any]:
        """The budget section of the policy input.

        Exact numbers when they could matter for this request (less than AMPLE_FACTOR times what
        it may use); otherwise null with `ample: true`, which keeps the input — and so the
        cached decision — the same from one keystroke to the next.
        """
        need = estimate + (info.max_tokens or self.s.budget_config.default_max_tokens)
        subject = (principal.id, principal.team, principal.key_id, target.provider, info.model, str(need))
        now = time.monotonic()
        seen = self._ample_until.get(subject)
        if seen is not None and seen[0] > now:
            return {"remaining_tokens": None, "remaining_usd": None, "ample": seen[1]}
        try:
            rem = self.s.ledger.remaining(self._budget_request(principal, target, info, estimate))
        except LedgerUnavailable:
            rem = {}
        tokens, usd = rem.get("tokens"), rem.get("usd")
        need_usd = self.s.ledger.cost_usd(info.model, estimate, need - estimate) if usd is not None else 0.0
        tight_tokens = tokens is not None and tokens < AMPLE_FACTOR * need
        tight_usd = usd is not None and usd < AMPLE_FACTOR * need_usd
        if not (tight_tokens or tight_usd):
            # Far from the limit (twice the margin): skip the read for a moment.
            if (tokens is None or tokens >= 2 * AMPLE_FACTOR * need) and (usd is None or usd >= 2 * AMPLE_FACTOR * need_usd):
                if len(self._ample_until) > 10_000:
                    self._ample_until.clear()
                self._ample_until[subject] = (now + AMPLE_RECHECK_S, bool(rem))
            return {"remaining_tokens": None, "remaining_usd": None, "ample": bool(rem)}
        return {"remaining_tokens": tokens if tight_tokens else None, "remaining_usd": usd if tight_usd else None,
                "ample": False, "budget": rem.get("budget"), "resets_at": rem.get("resets_at")}

    def _reserve(self, principal: Principal, target: Target, info: RequestInfo, estimate: int) -> Reservation | None:
        try:
            return self.s.ledger.reserve(self._budget_request(principal, target, info, estimate))
        except BudgetExceeded as exc:
            reset = exc.resets_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            raise Refusal(429, str(exc), "budget_exceeded", {
                "retry-after": str(max(1, int((exc.resets_at - datetime.now(UTC)).total_seconds()))),
                "x-customs-budget": exc.budget,
                "x-customs-budget-reset": reset,
            }) from None
        except LedgerUnavailable as exc:
            if self.s.budget_config.fail_closed:
                raise Refusal(503, f"budget ledger unavailable, request not forwarded ({exc})", "ledger_unavailable") from None
            return None
