"""Added latency and throughput on an 8 KB chat prompt: direct vs bare mitmproxy vs Customs.

All three run in one go on this machine against the same fake upstream, so compare ratios,
not absolute numbers (the load client shares the same cores).

    python -m bench.proxy_overhead [--n 300] [--concurrency 32] [--seconds 5]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.proxy.harness import ALICE, FakeUpstream, start_customs, start_fake_upstream, stop, wait_port, free_port

BIN = Path(sys.executable).parent
CODE_LINE = "    result = compute_total(items, tax_rate=0.21, discount=None)  # apply pricing rules\n"


def prompt(i: int, size: int = 8192) -> str:
    body = (CODE_LINE * (size // len(CODE_LINE) + 1))[: size - 40]
    return f"# request {i}\n" + body  # one line differs per request, as keystrokes do


def payload(i: int, stream: bool = False) -> bytes:
    return json.dumps({"model": "gpt-4o", "stream": stream,
                       "messages": [{"role": "user", "content": prompt(i)}]}).encode()


@dataclass
class Target:
    name: str
    url: str
    pid: int | None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def sequential(session: aiohttp.ClientSession, url: str, n: int) -> list[float]:
    lat = []
    for i in range(n):
        t = time.perf_counter()
        async with session.post(url, data=payload(i), headers={"content-type": "application/json"}) as r:
            await r.read()
            assert r.status == 200, await r.text()
        lat.append((time.perf_counter() - t) * 1000)
    return lat


async def interleaved(session: aiohttp.ClientSession, urls: list[str], n: int) -> list[list[float]]:
    """Latencies (ms) of n sequential requests per URL, taken in turn (A, B, C, A, B, C, ...).

    Taking the targets in turn spreads this machine's load spikes evenly over all of them, so
    the ratios between their medians hold from run to run (measured one after the other, a
    spike during one target's turn moved the ratio by +-0.3x).
    """
    lat: list[list[float]] = [[] for _ in urls]
    for i in range(n):
        for k, url in enumerate(urls):
            t = time.perf_counter()
            async with session.post(url, data=payload(i), headers={"content-type": "application/json"}) as r:
                await r.read()
                assert r.status == 200, await r.text()
            lat[k].append((time.perf_counter() - t) * 1000)
    return lat


async def throughput(session: aiohttp.ClientSession, url: str, conc: int, seconds: float) -> float:
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        i = w * 100000
        while time.perf_counter() < stop_at:
            async with session.post(url, data=payload(i), headers={"content-type": "application/json"}) as r:
                await r.read()
            done += 1
            i += 1

    t = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(conc)))
    return done / (time.perf_counter() - t)


async def streaming(session: aiohttp.ClientSession, target: Target, n: int) -> tuple[float, float]:
    """Median time to first byte (ms) and proxy CPU per SSE event (µs)."""
    ttfb, events = [], 0
    cpu0 = cpu_seconds(target.pid) if target.pid else 0.0
    for i in range(n):
        t = time.perf_counter()
        async with session.post(target.url, data=payload(i, stream=True), headers={"content-type": "application/json"}) as r:
            first = True
            async for line in r.content:
                if first:
                    ttfb.append((time.perf_counter() - t) * 1000)
                    first = False
                if line.startswith(b"data: "):
                    events += 1
    cpu = (cpu_seconds(target.pid) - cpu0) if target.pid else 0.0
    assert events, f"{target.name}: no SSE events arrived"
    return statistics.median(ttfb), (cpu / events * 1e6) if target.pid else 0.0


async def measure(targets: list[Target], n: int, conc: int, seconds: float) -> list[dict]:
    rows = []
    conn = aiohttp.TCPConnector(limit=conc * 2)
    async with aiohttp.ClientSession(connector=conn, headers={"authorization": f"Bearer {ALICE}"}) as session:
        for t in targets:  # warm-up: caches, connections, the CA's leaf certs
            await sequential(session, t.url, 20)
        latencies = await interleaved(session, [t.url for t in targets], n)
        for t, lat in zip(targets, latencies):
            rps = await throughput(session, t.url, conc, seconds)
            ttfb, cpu_ev = await streaming(session, t, max(5, n // 30))
            rows.append({"path": t.name, "p50_ms": statistics.median(lat), "p99_ms": pct(lat, 0.99),
                         "rps": rps, "ttfb_ms": ttfb, "cpu_us_per_event": cpu_ev})
    base = rows[0]
    for r in rows:
        r["added_p50_ms"] = r["p50_ms"] - base["p50_ms"]
        r["added_p99_ms"] = r["p99_ms"] - base["p99_ms"]
        r["added_ttfb_ms"] = r["ttfb_ms"] - base["ttfb_ms"]
    return rows


def table(rows: list[dict]) -> str:
    out = ["| path | p50 ms | p99 ms | added p50 ms | added p99 ms | req/s @32 | stream TTFB ms | added TTFB ms | proxy CPU µs/SSE event |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['path']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['added_p50_ms']:.2f} | "
                   f"{r['added_p99_ms']:.2f} | {r['rps']:.0f} | {r['ttfb_ms']:.2f} | {r['added_ttfb_ms']:.2f} | "
                   f"{r['cpu_us_per_event']:.1f} |")
    bare, customs = rows[1], rows[2]
    ratio = customs["added_p50_ms"] / bare["added_p50_ms"] if bare["added_p50_ms"] > 0 else float("nan")
    out.append("")
    out.append(f"Customs' added p50 is {ratio:.2f}x bare mitmproxy's (floor: <= 1.5x).")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        up: FakeUpstream = start_fake_upstream(tmp)
        up.proc.kill()  # restart without body logging so the upstream is as fast as it can be
        up.proc.wait()
        port = free_port()
        up_proc = subprocess.Popen([sys.executable, "-m", "bench.fake_upstream", "--port", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port, up_proc, 20, "fake upstream")
        up = FakeUpstream(port, tmp / "none", up_proc)
        mport = free_port()
        bare = subprocess.Popen([str(BIN / "mitmdump"), "-q", "--mode", f"reverse:{up.url}@127.0.0.1:{mport}",
                                 "--set", f"confdir={tmp / 'bare-ca'}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(mport, bare, 30, "bare mitmproxy")
        # No budget limits: a benchmark's thousands of requests would exhaust the example ones.
        (tmp / "no-budgets.yaml").write_text("budgets: []\n")
        customs = start_customs(tmp, up, extra={"budgets": {"limits_file": str(tmp / "no-budgets.yaml")}})
        try:
            targets = [Target("direct to fake upstream", f"{up.url}/v1/chat/completions", None),
                       Target("bare mitmproxy (reverse)", f"http://127.0.0.1:{mport}/v1/chat/completions", bare.pid),
                       Target("Customs gateway", f"{customs.gateway}/openai/v1/chat/completions", customs.proc.pid)]
            rows = asyncio.run(measure(targets, args.n, args.concurrency, args.seconds))
        finally:
            stop(customs.proc)
            stop(bare)
            stop(up.proc)
    print(f"8 KB chat prompt, n={args.n} sequential, concurrency {args.concurrency} for {args.seconds}s, "
          f"{os.cpu_count()} cores\n")
    print(table(rows))


if __name__ == "__main__":
    main()
