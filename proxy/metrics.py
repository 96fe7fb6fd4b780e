"""Prometheus metrics of one proxy process (its own registry: no process-global state)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("customs_requests", "AI requests handled", ["provider", "endpoint", "status"], registry=r)
        self.refusals = Counter("customs_refusals", "Requests refused by Customs", ["reason"], registry=r)
        self.findings = Counter("customs_findings", "Findings in requests", ["kind", "type"], registry=r)
        self.overhead = Histogram("customs_proxy_overhead_seconds", "Time Customs added to a request",
                                  ["provider"], buckets=_LATENCY_BUCKETS, registry=r)
        self.upstream = Histogram("customs_upstream_seconds", "Upstream time to last byte", ["provider"],
                                  buckets=_LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("customs_tokens", "Tokens reported by providers", ["provider", "direction"], registry=r)
        self.tunnels = Counter("customs_tunnels", "CONNECT tunnels to non-AI hosts passed through", registry=r)
        self.spool_bytes = Gauge("customs_audit_spool_bytes", "Bytes waiting in the audit spool", registry=r)
        self.spool_pending = Gauge("customs_audit_spool_events_pending", "Audit events not yet shipped", registry=r)
        self.vault_scopes = Gauge("customs_vault_scopes", "Placeholder vault scopes in memory", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
