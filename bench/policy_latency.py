"""Policy decision latency: embedded regopy vs the OPA REST path, on the full policy bundle.

Each engine decides the same mix of realistic inputs (allow, route, deny, findings, budget cap)
many times; we report p50/p99 per decide() call, the whole call the proxy makes (input
conversion, evaluation, mapping to a Decision). The OPA path talks HTTP to the regopy-backed
OPA REST server on loopback (and to a real OPA too when OPA_URL is set).

    python -m bench.policy_latency [--n 3000]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proxy.decision_cache import CachedPolicy
from proxy.opa_rest import OpaRestServer
from proxy.policy import EmbeddedEngine, OpaServerEngine, PolicyConfig

POLICIES = Path(__file__).resolve().parents[1] / "policies"


def inputs() -> list[dict[str, Any]]:
    """A small realistic mix, as the proxy builds policy inputs."""
    alice = {"id": "alice", "team": "payments", "roles": ["developer"], "regions": ["us", "eu"], "attributes": {}, "key_id": "k1"}
    carol = {"id": "carol", "team": "support", "roles": ["developer", "support"], "regions": ["eu"], "attributes": {}, "key_id": "k3"}
    dave = {"id": "dave", "team": "contractors", "roles": ["contractor"], "regions": ["eu"], "attributes": {}, "key_id": "k4"}

    def req(**kw: Any) -> dict[str, Any]:
        base = {"provider": "openai", "endpoint": "chat", "model": "gpt-4o", "host": "api.openai.com",
                "path": "/v1/chat/completions", "via": "gateway", "client": "openai-python/1.57.0", "stream": True,
                "max_tokens": 1024, "estimated_input_tokens": 2100, "repo": "acme/payments", "file_paths": ["src/app.py"]}
        return base | kw

    def inp(p: dict[str, Any], r: dict[str, Any], counts: dict[str, int] | None = None,
            budget: dict[str, Any] | None = None) -> dict[str, Any]:
        counts = counts or {}
        return {"principal": p, "request": r,
                "findings": {"counts": counts, "kinds": {"secret": 0, "pii": sum(counts.values()), "license": 0}},
                "budget": budget or {"remaining_tokens": None, "remaining_usd": None}, "now": "2026-11-26T13:00:00Z"}

    return [
        inp(alice, req()),
        inp(carol, req()),  # routed to openai-eu
        inp(carol, req(provider="anthropic", host="api.anthropic.com", model="claude-sonnet-4-5")),  # denied
        inp(dave, req()),  # contractor denied
        inp(alice, req(), {"EMAIL_ADDRESS": 2, "AWS_ACCESS_KEY": 1}, {"remaining_tokens": 500, "remaining_usd": 3.0}),
        inp(alice, req(repo="acme/crown-jewels", file_paths=["third_party/licensed/codec.c"])),
        inp(carol, req(provider="copilot", host="proxy.individual.githubcopilot.com", endpoint="fim",
                       repo="acme/payments", file_paths=["src/a.py", "src/b.py"])),
    ]


def measure(decide: Callable[[dict[str, Any]], Any], cases: list[dict[str, Any]], n: int) -> list[float]:
    for c in cases * 20:  # warm-up
        decide(c)
    out = []
    for i in range(n):
        c = cases[i % len(cases)]
        t = time.perf_counter_ns()
        decide(c)
        out.append((time.perf_counter_ns() - t) / 1e6)
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    args = parser.parse_args()
    cases = inputs()
    rows = []
    embedded = EmbeddedEngine(PolicyConfig(dir=str(POLICIES), reload_interval_s=3600))
    rows.append(("embedded (regopy, in process)", measure(embedded.decide, cases, args.n)))
    # What the proxy calls: the decision cache in front of the engine. Copilot asks the same
    # question on every keystroke (only volatile fields such as `now` differ), so it hits.
    cached = CachedPolicy(embedded, POLICIES)
    keystrokes = [c | {"now": f"2026-11-26T13:00:{i % 60:02d}Z"} for i, c in enumerate(cases * 10)]
    rows.append(("embedded + decision cache (repeated inputs, proxy path)", measure(cached.decide, keystrokes, args.n)))
    with OpaRestServer() as server:
        opa = OpaServerEngine(PolicyConfig(engine="opa", dir=str(POLICIES), opa_url=server.url, reload_interval_s=3600))
        rows.append(("OPA REST API on loopback (regopy server)", measure(opa.decide, cases, max(300, args.n // 5))))
        opa.close()
    if os.environ.get("OPA_URL"):
        real = OpaServerEngine(PolicyConfig(engine="opa", dir=str(POLICIES), opa_url=os.environ["OPA_URL"],
                                            reload_interval_s=3600))
        rows.append((f"OPA server at {os.environ['OPA_URL']}", measure(real.decide, cases, args.n)))
        real.close()
    print(f"Full policy bundle ({len(cases)} input shapes, revision {embedded.revision}); "
          "time per decide() call, ms.\n")
    print("| engine | n | min ms | p50 ms | p99 ms | mean ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in rows:
        print(f"| {name} | {len(values)} | {min(values):.3f} | {pct(values, 0.5):.3f} | {pct(values, 0.99):.3f} | "
              f"{statistics.fmean(values):.3f} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nTarget: embedded p50 < 0.3 ms. Load average during the run: {load:.1f} on {os.cpu_count()} CPUs.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
