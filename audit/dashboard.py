"""The audit dashboard: one self-contained HTML page (no CDN, no external script) whose inline
JavaScript draws SVG charts from the same JSON the named queries return."""
from __future__ import annotations

import html
import json
from collections import defaultdict
from typing import Any, Callable

# What the dashboard shows, and from which named query.
PANELS = {
    "usage": ("tokens_cost_by_team_model_day", {"since": "14d"}),
    "latency": ("latency_quantiles_by_provider", {"since": "7d"}),
    "denials": ("denials_by_rule", {"since": "7d"}),
    "redactions": ("secrets_pii_by_type_team", {"since": "7d"}),
}


def dashboard_data(run: Callable[[str, dict[str, str]], list[dict]]) -> dict[str, Any]:
    """Chart-ready series from the named queries (`run(name, params)` is the audited query call)."""
    usage = run(*PANELS["usage"])
    cost: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    tokens: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in usage:
        cost[r["team"]][r["day"]] += float(r["cost_usd"])
        tokens[r["team"]][r["day"]] += int(r["tokens"])
    days = sorted({r["day"] for r in usage})
    redactions: dict[str, int] = defaultdict(int)
    for r in run(*PANELS["redactions"]):
        redactions[r["type"]] += int(r["findings"])
    return {
        "days": days,
        "cost_by_team": {t: [round(cost[t].get(d, 0.0), 6) for d in days] for t in sorted(cost)},
        "tokens_by_team": {t: [tokens[t].get(d, 0) for d in days] for t in sorted(tokens)},
        "latency": [
            {"provider": r["provider"], "p50": r["p50_ms"], "p95": r["p95_ms"], "p99": r["p99_ms"]}
            for r in run(*PANELS["latency"])
        ],
        "denials": [{"label": r["rule"], "value": int(r["denials"])} for r in run(*PANELS["denials"])],
        "redactions": [{"label": k, "value": v} for k, v in sorted(redactions.items(), key=lambda kv: -kv[1])],
    }


def render_dashboard(data: dict[str, Any], principal: str) -> str:
    """The page, with the data embedded as JSON (escaped so it cannot close the script tag)."""
    payload = json.dumps(data).replace("</", "<\\/")
    return _PAGE.replace("__DATA__", payload).replace("__WHO__", html.escape(principal))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customs audit dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px system-ui,sans-serif;margin:0;background:#f6f7f9;color:#222}
 header{background:#1d3557;color:#fff;padding:12px 20px} header small{opacity:.8}
 main{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px;padding:16px}
 section{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
 h2{font-size:15px;margin:0 0 8px} svg{width:100%;height:auto} .empty{color:#888}
 .legend span{display:inline-block;margin-right:12px} .legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
 table{border-collapse:collapse;font-size:12px;margin-top:6px} td,th{padding:2px 8px;text-align:right} td:first-child,th:first-child{text-align:left}
</style></head><body>
<header><strong>Customs</strong> audit dashboard <small>signed in as __WHO__; every view is audited</small></header>
<main>
 <section><h2>Cost (USD) per day by team</h2><div id="chart-cost" class="chart"></div></section>
 <section><h2>Tokens per day by team</h2><div id="chart-tokens" class="chart"></div></section>
 <section><h2>Latency quantiles by provider (ms)</h2><div id="chart-latency" class="chart"></div></section>
 <section><h2>Denials by rule</h2><div id="chart-denials" class="chart"></div></section>
 <section><h2>Redactions by type</h2><div id="chart-redactions" class="chart"></div></section>
</main>
<script type="application/json" id="dashboard-data">__DATA__</script>
<script>
"use strict";
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#1d3557","#e63946","#2a9d8f","#f4a261","#6a4c93","#457b9d","#8ab17d","#e9c46a"];
function el(tag, attrs, parent, text) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function fmt(v) { return Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : String(+(+v).toFixed(4)); }
function empty(host) { const p = document.createElement("p"); p.className = "empty"; p.textContent = "no data in this period"; host.appendChild(p); }
function legend(host, names) {
  const d = document.createElement("div"); d.className = "legend";
  names.forEach((n, i) => { const s = document.createElement("span"); const c = document.createElement("i");
    c.style.background = COLORS[i % COLORS.length]; s.appendChild(c); s.appendChild(document.createTextNode(n)); d.appendChild(s); });
  host.appendChild(d);
}
function lineChart(host, labels, series) {
  const names = Object.keys(series);
  if (!labels.length || !names.length) return empty(host);
  const W = 520, H = 220, L = 60, B = 30, T = 10, R = 24;
  const max = Math.max(1e-9, ...names.flatMap(n => series[n]));
  const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, "data-chart": "line"}, host);
  const x = i => L + (labels.length === 1 ? (W - L - R) / 2 : i * (W - L - R) / (labels.length - 1));
  const y = v => T + (H - T - B) * (1 - v / max);
  el("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999"}, svg);
  el("text", {x: L - 6, y: T + 10, "text-anchor": "end", "font-size": 10}, svg, fmt(max));
  el("text", {x: L - 6, y: H - B, "text-anchor": "end", "font-size": 10}, svg, "0");
  labels.forEach((d, i) => el("text", {x: x(i), y: H - 10, "text-anchor": "middle", "font-size": 10}, svg, d.slice(5)));
  names.forEach((n, k) => {
    const c = COLORS[k % COLORS.length];
    const g = el("g", {"data-series": n}, svg);
    el("polyline", {fill: "none", stroke: c, "stroke-width": 2, points: series[n].map((v, i) => `${x(i)},${y(v)}`).join(" ")}, g);
    series[n].forEach((v, i) => el("circle", {cx: x(i), cy: y(v), r: 3, fill: c, "data-label": labels[i], "data-value": v}, g));
  });
  legend(host, names);
}
function barChart(host, rows) {
  if (!rows.length) return empty(host);
  const W = 520, rowH = 22, L = 200, R = 70, H = rows.length * rowH + 10;
  const max = Math.max(1e-9, ...rows.map(r => r.value));
  const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, "data-chart": "bar"}, host);
  rows.forEach((r, i) => {
    const g = el("g", {"data-label": r.label, "data-value": r.value}, svg);
    el("text", {x: L - 6, y: i * rowH + 16, "text-anchor": "end", "font-size": 11}, g, r.label);
    el("rect", {x: L, y: i * rowH + 4, height: rowH - 6, width: Math.max(1, (W - L - R) * r.value / max), fill: COLORS[i % COLORS.length]}, g);
    el("text", {x: L + (W - L - R) * r.value / max + 4, y: i * rowH + 16, "font-size": 11, class: "value"}, g, fmt(r.value));
  });
}
function groupedBars(host, rows, keys) {
  if (!rows.length) return empty(host);
  const W = 520, H = 230, L = 50, B = 30, T = 10, R = 10;
  const max = Math.max(1e-9, ...rows.flatMap(r => keys.map(k => r[k])));
  const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, "data-chart": "grouped-bar"}, host);
  const gw = (W - L - R) / rows.length, bw = Math.min(40, (gw - 10) / keys.length);
  el("text", {x: L - 6, y: T + 10, "text-anchor": "end", "font-size": 10}, svg, fmt(max));
  rows.forEach((r, i) => {
    const g = el("g", {"data-label": r.provider}, svg);
    keys.forEach((k, j) => {
      const h = (H - T - B) * r[k] / max, x0 = L + i * gw + 5 + j * bw;
      el("rect", {x: x0, y: H - B - h, width: bw - 2, height: h, fill: COLORS[j], "data-quantile": k, "data-value": r[k]}, g);
      el("text", {x: x0 + bw / 2, y: H - B - h - 3, "text-anchor": "middle", "font-size": 9}, g, fmt(r[k]));
    });
    el("text", {x: L + i * gw + gw / 2, y: H - 10, "text-anchor": "middle", "font-size": 11}, g, r.provider);
  });
  legend(host, keys);
}
const data = JSON.parse(document.getElementById("dashboard-data").textContent);
lineChart(document.getElementById("chart-cost"), data.days, data.cost_by_team);
lineChart(document.getElementById("chart-tokens"), data.days, data.tokens_by_team);
groupedBars(document.getElementById("chart-latency"), data.latency, ["p50", "p95", "p99"]);
barChart(document.getElementById("chart-denials"), data.denials);
barChart(document.getElementById("chart-redactions"), data.redactions);
document.body.setAttribute("data-rendered", "true");
</script></body></html>
"""
