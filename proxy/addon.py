"""The mitmproxy addon: one exchange through Customs, hook by hook (DESIGN.md's pipeline).

Hooks run on mitmproxy's event loop, so each does microseconds of work: no I/O but the audit
spool append (an os.write), detectors and policy are in-process and cached.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mitmproxy import http
from mitmproxy.proxy.mode_specs import ReverseMode

from audit import AuditEvent, SpoolUnavailable
from proxy.decision import Decision
from proxy.exchange import Exchange, Principal, new_exchange_id
from proxy.pipeline import Inspection, Pipeline, Refusal, encode_json, parse_json_body
from proxy.providers import adapter_for_host
from proxy.providers.base import ProviderAdapter
from proxy.providers.copilot import acceptance_events, is_telemetry_path, parse_telemetry
from proxy.routing import RouteError, Target, rerouted, resolve_gateway, resolve_proxy
from proxy.services import Services
from proxy.streaming import InventedSecretGuard, SseTransform, VaultTextFilter

log = logging.getLogger("customs")

_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")
_RESPONSE_KEEP_CHARS = 256 * 1024  # audit keeps at most this much response text per exchange
# Refusals Customs makes after the policy allowed the request (the exchange was not forwarded).
_REFUSAL_CODES = frozenset({"blocked_content", "budget_exceeded", "ledger_unavailable", "policy_unavailable", "audit_unavailable",
                            "upstream_key_missing"})


@dataclass(slots=True)
class FlowState:
    """Everything Customs remembers about one flow between its hooks."""

    ex: Exchange
    target: Target
    principal: Principal
    insp: Inspection | None = None
    filter: VaultTextFilter | None = None
    guard: InventedSecretGuard | None = None
    transform: SseTransform | None = None
    prompt_text: str = ""
    response_text: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    drop_usage: bool = False  # we asked the upstream for stream usage the client did not request
    settled: bool = False


def _error(adapter: ProviderAdapter | None, endpoint: str, status: int, message: str, code: str,
           headers: dict[str, str] | None = None) -> http.Response:
    if adapter is None:
        body = json.dumps({"error": {"message": message, "type": "customs_error", "code": code}}).encode()
    else:
        body = adapter.error_body_for(endpoint, status, message, code)
    resp = http.Response.make(status, body, {"content-type": "application/json", "x-customs-refusal": code})
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _point_upstream(req: http.Request, target: Target) -> None:
    """Send the request to the target's upstream, keeping the client's query string."""
    query = req.path.partition("?")[2]
    req.scheme, req.host, req.port = target.upstream.scheme, target.upstream.host, target.upstream.port
    req.path = target.path + (f"?{query}" if query else "")


class CustomsAddon:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.pipeline = Pipeline(services)
        # Explicit-proxy identity is proven once per CONNECT and holds for the tunnel's requests.
        self._conn_principals: dict[str, Principal] = {}

    # -- connection level ----------------------------------------------------------------

    def http_connect(self, flow: http.HTTPFlow) -> None:
        principal = self.s.directory.principal_for_basic(flow.request.headers.get("proxy-authorization"))
        if principal is None:
            flow.response = http.Response.make(
                407, b"Customs proxy: authentication required. Use http://USER:VIRTUAL_KEY@host:port as the proxy URL.\n",
                {"proxy-authenticate": 'Basic realm="customs"', "content-type": "text/plain"})
            return
        self._conn_principals[flow.client_conn.id] = principal

    def client_disconnected(self, client) -> None:  # noqa: ANN001 - mitmproxy's Client
        self._conn_principals.pop(client.id, None)

    # -- request ---------------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # Copilot's Responses-over-WebSocket would carry prompts we could not rewrite in time:
        # refuse the upgrade so the client falls back to HTTP + SSE, which we do inspect.
        if flow.request.headers.get("upgrade", "").lower() == "websocket" and self._is_ai(flow):
            flow.response = http.Response.make(
                503, json.dumps({"error": {"message": "Customs inspects AI traffic over HTTP only; "
                                           "WebSocket upgrades are refused, retry over HTTP",
                                           "type": "api_error", "code": "websocket_not_supported"}}).encode(),
                {"content-type": "application/json"})

    def _is_ai(self, flow: http.HTTPFlow) -> bool:
        if isinstance(flow.client_conn.proxy_mode, ReverseMode):
            return True
        return adapter_for_host(flow.request.pretty_host) is not None

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:  # already answered (407, refused upgrade)
            return
        try:
            self._request(flow)
        except Exception:  # noqa: BLE001
            # mitmproxy logs a hook's exception and forwards the flow anyway: that would send an
            # unscanned request upstream. Fail closed instead, without echoing any content.
            log.exception("internal error while inspecting a request; refused")
            state = flow.metadata.get("customs")
            adapter = state.target.adapter if isinstance(state, FlowState) else None
            flow.response = _error(adapter, "", 500, "Customs could not inspect this request; it was not forwarded",
                                   "inspection_failed")
            if isinstance(state, FlowState) and not state.settled:
                state.ex.status, state.ex.error = 500, "inspection_failed"
                try:
                    self._finish(flow, state)
                except Exception:  # noqa: BLE001 - the refusal stands whatever the bookkeeping does
                    log.exception("could not record the refused exchange")

    def _request(self, flow: http.HTTPFlow) -> None:
        started = time.perf_counter_ns()
        req = flow.request
        gateway = isinstance(flow.client_conn.proxy_mode, ReverseMode)
        path = req.path.partition("?")[0]
        try:
            if gateway:
                target = resolve_gateway(self.s.config, path)
                if target is None:
                    flow.response = _error(None, "", 404, f"no Customs gateway route for {path}; use /openai/v1, "
                                           "/anthropic/v1, /azure/<resource>/openai, /gemini/v1beta, /compat/<name>/v1 "
                                           "or /copilot", "unknown_route")
                    return
            else:
                target = resolve_proxy(self.s.config, req.pretty_host, req.port, req.scheme, path)
                if target is None:
                    return  # not an AI host (plain-HTTP proxying of other hosts): pass untouched
        except RouteError as exc:
            flow.response = _error(exc.adapter, "", exc.status, str(exc), "unknown_route")
            return

        principal = self._principal(flow, target, gateway)
        ex = Exchange(id=new_exchange_id(), principal=principal, provider=target.provider, endpoint="other",
                      host=target.logical_host, path=path, via=target.via,
                      client=req.headers.get("editor-version") or req.headers.get("user-agent", ""),
                      started_ns=started)
        if principal is None:
            status, where = (401, "the provider key") if gateway else (407, "the proxy password")
            msg = f"Customs: missing or unknown virtual key; send your Customs key as {where}"
            flow.response = _error(target.adapter, "", status, msg, "invalid_api_key")
            if status == 407:
                flow.response.headers["proxy-authenticate"] = 'Basic realm="customs"'
            self._count(target.provider, "other", status)
            return
        if target.provider == "copilot" and is_telemetry_path(path):
            self._telemetry(flow, principal)
            _point_upstream(req, target)
            return
        state = FlowState(ex=ex, target=target, principal=principal)
        flow.metadata["customs"] = state
        try:
            self._inspect_and_forward(flow, state)
        except Refusal as r:
            state.insp = r.inspection
            self.s.metrics.refusals.labels(r.code).inc()
            flow.response = _error(target.adapter, ex.endpoint, r.status, r.message, r.code, r.headers)
            ex.status, ex.error = r.status, r.code
            self._finish(flow, state)

    def _telemetry(self, flow: http.HTTPFlow, principal: Principal) -> None:
        """Copilot telemetry carries no prompt: forward it untouched, keep acceptance for ROI."""
        try:
            raw = flow.request.get_content(strict=False) or b""
            events = acceptance_events(parse_telemetry(raw[: self.s.config.limits.max_body_bytes]))
        except ValueError:
            return
        now = datetime.now(UTC)
        for request_id, accepted in events:
            try:
                self.s.auditor.record_acceptance(request_id, accepted, now, principal.id)
            except SpoolUnavailable:
                log.error("audit spool unavailable; Copilot acceptance event not recorded")

    def _principal(self, flow: http.HTTPFlow, target: Target, gateway: bool) -> Principal | None:
        d = self.s.directory
        req = flow.request
        if gateway:
            key = req.headers.get("x-customs-key") or target.adapter.client_credential(req.headers, req.query)
            return d.principal_for_key(key)
        principal = self._conn_principals.get(flow.client_conn.id)
        if principal is None:  # plain-HTTP request through the proxy: credentials on the request
            principal = d.principal_for_basic(req.headers.get("proxy-authorization"))
        return principal

    def _inspect_and_forward(self, flow: http.HTTPFlow, state: FlowState) -> None:
        req, target, ex = flow.request, state.target, state.ex
        limit = self.s.config.limits.max_body_bytes
        if req.raw_content is not None and len(req.raw_content) > limit:
            raise Refusal(413, f"request body of {len(req.raw_content)} bytes exceeds Customs' limit of {limit}",
                          "request_too_large")
        body = None
        if req.raw_content:
            try:
                raw = req.get_content(strict=True)
            except ValueError:
                raise Refusal(400, "request body could not be decoded with its Content-Encoding "
                              f"{req.headers.get('content-encoding', '')!r}", "invalid_encoding") from None
            if raw is not None and len(raw) > limit:
                raise Refusal(413, f"decompressed request body exceeds Customs' limit of {limit} bytes",
                              "request_too_large")
            body = parse_json_body(raw or b"")
        if self.s.audit_config.fail_closed and not self.s.auditor.accepting():
            # Nothing may cross unrecorded: a full spool (ClickHouse down for long) stops traffic.
            raise Refusal(503, "Customs' audit spool is full; requests are refused until it drains", "audit_unavailable")
        insp = self.pipeline.inspect(ex, target, state.principal, req.method, req.query, body, req.headers)
        state.insp = insp
        info = insp.info
        for _, f in insp.findings:
            self.s.metrics.findings.labels(f.kind, f.type).inc()
        if insp.decision.route is not None:
            route = insp.decision.route
            target = state.target = rerouted(self.s.config, target, route.endpoint, route.upstream)
            ex.host = target.logical_host
        drop_usage = False
        if info.stream:
            req.headers["accept-encoding"] = "identity"  # the stream transform needs plain bytes
            drop_usage = target.adapter.ensure_stream_usage(info.endpoint, body)
        if insp.findings or insp.changed or drop_usage:
            target.adapter.write_segments(body, info.segments)
            # Send the rewritten body uncompressed: every provider accepts identity, not all gzip.
            req.headers.pop("content-encoding", None)
            req.content = encode_json(body)
        if insp.decision.audit_level == "full":
            state.prompt_text = "\n".join(seg.text for seg in info.segments)
        self._swap_credentials(req, target)
        _point_upstream(req, target)
        state.guard = InventedSecretGuard(self.s.response_scanner)
        state.filter = VaultTextFilter(self.s.vaults.get(state.principal.id), state.guard, _RESPONSE_KEEP_CHARS)
        state.drop_usage = drop_usage
        ex.upstream_started_ns = time.perf_counter_ns()

    def _swap_credentials(self, req: http.Request, target: Target) -> None:
        if target.via == "proxy" and target.provider == "copilot":
            return  # Copilot's own token passes through to GitHub
        req.headers.pop("x-customs-key", None)
        pc = self.s.config.provider(target.provider)
        real = pc.api_key()
        if real:
            target.adapter.set_credential(req.headers, req.query, real)
        elif pc.api_key_env is None or target.via == "proxy":
            if target.via == "gateway":  # a keyless upstream (Ollama, vLLM): drop the virtual key
                for h in _CREDENTIAL_HEADERS:
                    req.headers.pop(h, None)
                req.query.pop("key", None)
        else:
            raise Refusal(503, f"Customs has no upstream key for {target.provider}: set {pc.api_key_env}",
                          "upstream_key_missing")

    # -- response --------------------------------------------------------------------------

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get("customs")
        if state is None or state.insp is None or flow.response is None:
            return
        state.ex.upstream_first_byte_ns = time.perf_counter_ns()
        self._add_budget_headers(flow.response, state)
        ctype = flow.response.headers.get("content-type", "")
        if ctype.startswith("text/event-stream"):
            assert state.filter is not None
            handler = state.target.adapter.stream_handler(state.insp.info.endpoint, state.filter,
                                                          state.drop_usage)
            state.transform = SseTransform(handler)
            flow.response.stream = state.transform
            flow.response.headers.pop("content-length", None)  # the transform may change the size

    def response(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get("customs")
        if state is None or state.insp is None or flow.response is None or state.settled:
            return
        resp, ex = flow.response, state.ex
        ex.status = resp.status_code
        endpoint = state.insp.info.endpoint
        if state.transform is not None:
            handler = state.transform.handler
            if handler.usage is not None:
                ex.usage = handler.usage
            assert state.filter is not None
            state.response_text = state.filter.redacted_text()
        elif resp.raw_content:
            self._rewrite_buffered(resp, state, endpoint)
        if ex.usage.total_tokens == 0 and resp.status_code < 400 and state.insp.reservation is not None:
            ex.usage.input_tokens = state.insp.input_estimate
            ex.usage.output_tokens = len(state.response_text) // 4
            ex.usage.estimated = True
        self._finish(flow, state, defer=True)

    def _rewrite_buffered(self, resp: http.Response, state: FlowState, endpoint: str) -> None:
        adapter, ex = state.target.adapter, state.ex
        ctype = resp.headers.get("content-type", "")
        if "json" not in ctype:
            return
        try:
            body = json.loads(resp.get_content(strict=False) or b"")
        except (ValueError, UnicodeDecodeError):
            return  # not our format to fix; pass the upstream's bytes as they are
        if resp.status_code < 400:
            usage = adapter.usage_from_body(endpoint, body)
            if usage is not None:
                ex.usage = usage
        vault = self.s.vaults.get(state.principal.id)
        guard = state.guard
        kept: list[str] = []
        changed = False

        def restore(text: str) -> str:
            nonlocal changed
            guarded = guard.clean(text) if guard is not None else text
            kept.append(guarded)
            restored = vault.restore(guarded)
            changed = changed or restored != text
            return restored

        adapter.rewrite_response(endpoint, body, restore)
        state.response_text = "\n".join(kept)[:_RESPONSE_KEEP_CHARS]
        if changed:  # untouched answers keep the upstream's exact bytes (and save a re-encode)
            resp.content = encode_json(body)

    def _add_budget_headers(self, resp: http.Response, state: FlowState) -> None:
        """What remains of the tightest budget, as of this request's reservation."""
        if state.insp is not None and state.insp.reservation is not None:
            for k, v in state.insp.reservation.headers().items():
                resp.headers[k] = v

    def error(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get("customs")
        if state is None or state.insp is None or state.settled:
            return
        state.ex.error = (flow.error.msg if flow.error else "error")[:200]
        if state.transform is not None and state.transform.handler.usage is not None:
            state.ex.usage = state.transform.handler.usage
        state.ex.status = state.ex.status or (flow.response.status_code if flow.response else 502)
        self._finish(flow, state)

    # -- settle and record -----------------------------------------------------------------

    def _finish(self, flow: http.HTTPFlow, state: FlowState, defer: bool = False) -> None:
        """Steps 9-10: settle the budget reservation and append the audit event (once per flow).

        With `defer`, the work (~0.25 ms: ledger write, audit row) runs just after this hook
        returns: mitmproxy writes the response to the client in the same step as the hook's
        completion, so the client no longer waits for Customs' bookkeeping. The loop runs the
        callback before it reads another request, and before shutdown flushes the audit spool.
        """
        if state.settled:
            return
        state.settled = True
        state.ex.ended_ns = time.perf_counter_ns()
        if defer:
            try:
                asyncio.get_running_loop().call_soon(self._settle_and_record, flow, state)
                return
            except RuntimeError:  # no running loop (a direct call): do it now
                pass
        self._settle_and_record(flow, state)

    def _settle_and_record(self, flow: http.HTTPFlow, state: FlowState) -> None:
        ex = state.ex
        insp = state.insp
        usage = ex.usage
        ok = ex.status and ex.status < 400 and not ex.error
        if insp is not None and insp.reservation is not None:
            try:
                if ok or usage.total_tokens:
                    self.s.ledger.settle(insp.reservation, usage.input_tokens, usage.output_tokens, usage.cached_tokens)
                else:
                    self.s.ledger.release(insp.reservation)
            except Exception:  # noqa: BLE001 - reservations expire and are reconciled; never fail the response
                log.exception("budget settle failed for %s", ex.id)
        self._count(ex.provider, ex.endpoint, ex.status)
        m = self.s.metrics
        if usage.total_tokens:
            m.tokens.labels(ex.provider, "input").inc(usage.input_tokens)
            m.tokens.labels(ex.provider, "output").inc(usage.output_tokens)
        total_ms = (ex.ended_ns - ex.started_ns) / 1e6
        upstream_ms = (ex.ended_ns - ex.upstream_started_ns) / 1e6 if ex.upstream_started_ns else 0.0
        ttfb_ms = (ex.upstream_first_byte_ns - ex.upstream_started_ns) / 1e6 if ex.upstream_first_byte_ns else 0.0
        overhead_ms = max(0.0, total_ms - upstream_ms)
        m.overhead.labels(ex.provider).observe(overhead_ms / 1000)
        if upstream_ms:
            m.upstream.labels(ex.provider).observe(upstream_ms / 1000)
        decision = insp.decision if insp else None
        full = decision is None or decision.audit_level == "full"
        p = state.principal
        event = AuditEvent(
            id=ex.id, time=state.started_at, user=p.id, team=p.team, roles=list(p.roles), key_id=p.key_id,
            client=ex.client[:200], via=ex.via, provider=ex.provider, endpoint=ex.endpoint, model=ex.model,
            host=ex.host, region=decision.region if decision else "", stream=ex.stream, status=int(ex.status or 0),
            allowed=bool(decision and decision.allow and ex.error not in _REFUSAL_CODES),
            reasons=self._reasons(ex, decision),
            policy_revision=decision.revision if decision else "",
            policy_input=encode_json(insp.policy_input).decode() if insp else "",
            finding_counts=self._finding_counts(state),
            audit_level=decision.audit_level if decision else "full",
            prompt=state.prompt_text if full else "", response=state.response_text if full else "",
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, cached_tokens=usage.cached_tokens,
            cost_usd=self._cost(ex), latency_ms=total_ms, upstream_ms=upstream_ms, overhead_ms=overhead_ms, ttfb_ms=ttfb_ms,
            error=ex.error, request_id=(flow.response.headers.get("x-request-id", "") if flow.response else ""),
        )
        try:
            self.s.auditor.record(event)
        except SpoolUnavailable:
            log.error("audit spool unavailable; exchange %s not recorded", ex.id)

    @staticmethod
    def _reasons(ex: Exchange, decision: Decision | None) -> list[str]:
        """The policy's rule ids, plus Customs' own refusal (blocked content, budget) if any."""
        rules = [r.rule for r in decision.reasons] if decision else []
        if ex.error and ex.error not in rules:
            rules.append(ex.error)
        return rules

    def _finding_counts(self, state: FlowState) -> dict[str, int]:
        """Request findings by type, plus secrets the model wrote as `response:TYPE`."""
        counts = dict(state.insp.counts) if state.insp else {}
        if state.guard is not None:
            for type_, n in state.guard.counts.items():
                counts[f"response:{type_}"] = n
                self.s.metrics.findings.labels("response_secret", type_).inc(n)
        return counts

    def _cost(self, ex: Exchange) -> float:
        u = ex.usage
        if not u.total_tokens:
            return 0.0
        try:
            return self.s.ledger.cost_usd(ex.model, u.input_tokens, u.output_tokens, u.cached_tokens)
        except Exception:  # noqa: BLE001 - a price lookup must never fail the exchange
            return 0.0

    def _count(self, provider: str, endpoint: str, status: int) -> None:
        self.s.metrics.requests.labels(provider, endpoint, str(status)).inc()
