"""Redaction quality on ../shared/corpus: ours vs stock detect-secrets and stock presidio.

Usage: .venv/bin/python bench/redaction_quality.py [--stock-sample N] [--no-stock]

Prints secret recall per source and per kind family, false-positive rates on firm clean and
near-miss records separately, and PII recall/precision per type. The stock libraries are
run in the same process on a random sample (default 1500 secret records, all PII records)
to stay fast; the sample size is printed.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable

REPO = Path(__file__).resolve().parents[1]
CORPUS = (REPO / "../shared/corpus").resolve()
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

SECRET_FILES = ("secrets_gitleaks.jsonl", "secrets_trufflehog.jsonl", "secrets_detect_secrets.jsonl",
                "clean_lockfiles.jsonl")
FLOOR_SOURCES = ("secrets_gitleaks.jsonl", "secrets_trufflehog.jsonl")
PII_FILES = ("pii_presidio_research_synth_v2.jsonl", "pii_presidio_research_generated_large.jsonl",
             "pii_presidio_tests.jsonl")
# Common PII types that presidio's pattern recognizers emit (the ones the floor is held on).
PII_PATTERN_TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "MAC_ADDRESS",
                     "CRYPTO_WALLET")

Span = tuple[int, int]


def load(name: str) -> list[dict]:
    """Records of one corpus file."""
    with open(CORPUS / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def secret_records() -> dict[str, list[dict]]:
    """Secret corpus by file name."""
    return {name: load(name) for name in SECRET_FILES}


def detected(record: dict, spans: list[Span]) -> bool:
    """A positive counts if a secret span overlaps one of its values (any span if none given)."""
    values = record.get("secrets")
    if not values:
        return bool(spans)
    text = record["text"]
    targets = []
    for v in values:
        i = text.find(v)
        while i >= 0:
            targets.append((i, i + len(v)))
            i = text.find(v, i + 1)
    return any(s < te and ts < e for s, e in spans for ts, te in targets)


def kind_family(record: dict, source: str) -> str:
    """Coarse family for reporting: source plus the first word of the kind."""
    kind = record.get("kind", "?")
    return f"{source.split('_')[1].split('.')[0]}:{kind.split('-')[0].split('_')[0]}"


def secret_quality(spans_of: Callable[[str], list[Span]], records: dict[str, list[dict]]) -> dict:
    """Recall/FP numbers for one detector (`spans_of` returns secret spans of a text)."""
    per_source: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # detected, total
    per_family: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    fp_firm = [0, 0]
    fp_near = [0, 0]
    missed: list[dict] = []
    false_pos: list[dict] = []
    for source, recs in records.items():
        for r in recs:
            spans = spans_of(r["text"])
            if r["label"] == "secret":
                hit = detected(r, spans)
                per_source[source][0] += hit
                per_source[source][1] += 1
                fam = kind_family(r, source)
                per_family[fam][0] += hit
                per_family[fam][1] += 1
                if not hit:
                    missed.append(r)
            else:
                bucket = fp_near if r.get("near_miss") else fp_firm
                bucket[0] += bool(spans)
                bucket[1] += 1
                if spans and not r.get("near_miss"):
                    false_pos.append(r)
    floor = [sum(per_source[s][i] for s in FLOOR_SOURCES if s in per_source) for i in (0, 1)]
    return {"per_source": dict(per_source), "per_family": dict(per_family), "fp_firm": fp_firm,
            "fp_near": fp_near, "floor_recall": floor, "missed": missed, "false_pos": false_pos}


def pii_type_map() -> dict[str, str]:
    """presidio entity name -> common corpus type."""
    return json.loads((CORPUS / "pii_type_map.json").read_text())


def pii_quality(predict: Callable[[str], list[tuple[int, int, str]]], records: Iterable[dict],
                types: Iterable[str] = PII_PATTERN_TYPES) -> dict[str, dict[str, int]]:
    """Per common type: gold spans found (tp_gold), gold total, predictions, correct predictions.

    A prediction is correct when it overlaps a gold span of the same type; on records that
    label only one type, predictions of other types are ignored.
    """
    types = set(types)
    tmap = pii_type_map()
    out: dict[str, dict[str, int]] = {t: {"found": 0, "gold": 0, "pred": 0, "correct": 0} for t in types}
    for r in records:
        labeled = r["labeled_types"]
        preds = [(s, e, tmap.get(t, t)) for s, e, t in predict(r["text"])]
        gold = [(g["start"], g["end"], g["type"]) for g in r["spans"]]
        for t in types:
            if labeled != "all" and t not in labeled:
                continue
            g_t = [(s, e) for s, e, gt in gold if gt == t]
            p_t = [(s, e) for s, e, pt in preds if pt == t]
            out[t]["gold"] += len(g_t)
            out[t]["pred"] += len(p_t)
            out[t]["found"] += sum(any(ps < ge and gs < pe for ps, pe in p_t) for gs, ge in g_t)
            out[t]["correct"] += sum(any(ps < ge and gs < pe for gs, ge in g_t) for ps, pe in p_t)
    return out


def pii_records() -> list[dict]:
    """All PII corpus records."""
    return [r for name in PII_FILES for r in load(name)]


# ---------------------------------------------------------------- detectors


def ours() -> tuple[Callable[[str], list[Span]], Callable[[str], list[tuple[int, int, str]]]]:
    """Secret-span and PII-prediction functions for our Scanner (one instance, shared cache)."""
    from redaction import Scanner

    scanner = Scanner()

    def secret_spans(text: str) -> list[Span]:
        return [(f.start, f.end) for f in scanner.scan(text) if f.kind == "secret"]

    def pii_preds(text: str) -> list[tuple[int, int, str]]:
        return [(f.start, f.end, f.type) for f in scanner.scan(text) if f.kind == "pii"]

    return secret_spans, pii_preds


def stock_detect_secrets() -> Callable[[str], list[Span]]:
    """Stock detect-secrets as `detect-secrets scan` runs on a file: default plugins and filters,
    no eager search (scan_line's ad-hoc mode is far more aggressive than a normal scan)."""
    from detect_secrets.settings import get_plugins
    from detect_secrets.core.scan import _is_filtered_out, _scan_line
    from detect_secrets.settings import default_settings
    from detect_secrets.util.code_snippet import get_code_snippet

    ctx = default_settings()
    ctx.__enter__()  # settings stay active for the process (bench only)
    filename = "prompt.txt"

    def spans(text: str) -> list[Span]:
        out: list[Span] = []
        offset = 0
        lines = text.split("\n")
        for number, line in enumerate(lines, start=1):
            context = get_code_snippet(lines=lines, line_number=number)
            for plugin in get_plugins():
                for secret in _scan_line(plugin=plugin, filename=filename, line=line, line_number=number,
                                         enable_eager_search=False, context=context):
                    if _is_filtered_out(required_filter_parameters=["context"], filename=filename,
                                        secret=secret.secret_value, plugin=plugin, line=line, context=context):
                        continue
                    value = secret.secret_value or ""
                    i = line.find(value) if value else -1
                    out.append((offset + i, offset + i + len(value)) if i >= 0 else (offset, offset + len(line)))
            offset += len(line) + 1
        return out

    spans.settings = ctx  # type: ignore[attr-defined]  # keep the settings context alive (GC would exit it)
    return spans


def stock_presidio() -> Callable[[str], list[tuple[int, int, str]]]:
    """Stock presidio pattern recognizers (no NLP model), default threshold (0)."""
    import tldextract
    from presidio_analyzer import RecognizerRegistry

    # The stock email recognizer calls tldextract's module default (which would try to fetch);
    # point that default at the bundled snapshot so the comparison stays offline.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers()
    from presidio_analyzer import PatternRecognizer
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    recs = [r for r in registry.recognizers if isinstance(r, (PatternRecognizer, PhoneRecognizer))]

    def preds(text: str) -> list[tuple[int, int, str]]:
        out = []
        for rec in recs:
            for res in rec.analyze(text, rec.supported_entities, None):
                out.append((res.start, res.end, res.entity_type))
        return out

    return preds


def pct(a: int, b: int) -> str:
    """a/b as a percentage string."""
    return f"{100 * a / b:5.1f}%" if b else "   n/a"


def print_secret_report(name: str, q: dict) -> None:
    """Recall per source/family and FP rates."""
    print(f"\n== secrets: {name}")
    for src, (d, t) in q["per_source"].items():
        print(f"  recall {src:32s} {pct(d, t)}  ({d}/{t})")
    d, t = q["floor_recall"]
    print(f"  recall gitleaks+trufflehog         {pct(d, t)}  ({d}/{t})   floor 95%")
    print(f"  FP firm clean                      {pct(*q['fp_firm'])}  ({q['fp_firm'][0]}/{q['fp_firm'][1]})   ceiling 2%")
    print(f"  FP near-miss clean                 {pct(*q['fp_near'])}  ({q['fp_near'][0]}/{q['fp_near'][1]})")


def print_families(q: dict, limit: int) -> None:
    """Kind families with the lowest recall."""
    fams = sorted(q["per_family"].items(), key=lambda kv: (kv[1][0] / kv[1][1], -kv[1][1]))
    print(f"  lowest-recall kind families (of {len(fams)}):")
    for fam, (d, t) in fams[:limit]:
        print(f"    {fam:40s} {pct(d, t)} ({d}/{t})")


def print_pii(name: str, q: dict[str, dict[str, int]]) -> None:
    """PII recall/precision per type."""
    print(f"\n== PII: {name}")
    tot = {"found": 0, "gold": 0, "pred": 0, "correct": 0}
    for t, c in sorted(q.items()):
        for k in tot:
            tot[k] += c[k]
        print(f"  {t:14s} recall {pct(c['found'], c['gold'])} ({c['found']}/{c['gold']})  "
              f"precision {pct(c['correct'], c['pred'])} ({c['correct']}/{c['pred']})")
    print(f"  {'ALL':14s} recall {pct(tot['found'], tot['gold'])}  precision {pct(tot['correct'], tot['pred'])}")


def main() -> None:
    """Run the report."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--stock-sample", type=int, default=1500)
    ap.add_argument("--no-stock", action="store_true")
    ap.add_argument("--families", type=int, default=25)
    ap.add_argument("--show-misses", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="update bench/README-redaction.md")
    args = ap.parse_args()
    records = secret_records()
    secret_spans, pii_preds = ours()
    t0 = time.perf_counter()
    q = secret_quality(secret_spans, records)
    t1 = time.perf_counter()
    print_secret_report(f"ours (all {sum(map(len, records.values()))} records, {t1 - t0:.1f}s)", q)
    print_families(q, args.families)
    for r in q["missed"][: args.show_misses]:
        print("   MISS", r["id"], repr(r["text"][:200]), r.get("secrets"))
    for r in q["false_pos"][: args.show_misses]:
        print("   FP  ", r["id"], repr(r["text"][:200]))
    pii = pii_records()
    print_pii("ours", pii_quality(pii_preds, pii))
    if args.no_stock:
        return
    rng = random.Random(7)
    sample = {k: (rng.sample(v, min(len(v), args.stock_sample * len(v) // sum(map(len, records.values())) + 1)))
              for k, v in records.items()}
    n = sum(map(len, sample.values()))
    t0 = time.perf_counter()
    qs = secret_quality(stock_detect_secrets(), sample)
    print_secret_report(f"stock detect-secrets (random sample of {n} records, {time.perf_counter() - t0:.1f}s)", qs)
    qp_stock = pii_quality(stock_presidio(), pii)
    print_pii("stock presidio pattern recognizers (all records, threshold 0)", qp_stock)
    if args.write:
        write_readme(q, qs, n, pii_quality(pii_preds, pii), qp_stock)


def write_readme(q: dict, qs: dict, n_stock: int, qp: dict, qp_stock: dict) -> None:
    """Quality section of bench/README-redaction.md."""
    from redaction_speed import replace_section

    def cell(pair: list[int] | tuple[int, int]) -> str:
        return f"{pct(pair[0], pair[1]).strip()} ({pair[0]}/{pair[1]})"

    lines = ["| secrets | ours (all records) | stock detect-secrets (sample) | floor |", "|---|---:|---:|---|"]
    for src in SECRET_FILES[:3]:
        lines.append(f"| recall {src} | {cell(q['per_source'][src])} | {cell(qs['per_source'][src])} | |")
    lines.append(f"| **recall gitleaks + trufflehog** | {cell(q['floor_recall'])} | {cell(qs['floor_recall'])} | >= 95% |")
    lines.append(f"| **false positives, firm clean (incl. lock files)** | {cell(q['fp_firm'])} | {cell(qs['fp_firm'])} | <= 2% |")
    lines.append(f"| false positives, near-miss clean | {cell(q['fp_near'])} | {cell(qs['fp_near'])} | (reported) |")
    lines += ["", "| PII type | ours recall | stock recall | ours precision | stock precision |", "|---|---:|---:|---:|---:|"]
    for t in sorted(qp):
        c, cs = qp[t], qp_stock[t]
        lines.append(f"| {t} | {cell((c['found'], c['gold']))} | {cell((cs['found'], cs['gold']))} | "
                     f"{cell((c['correct'], c['pred']))} | {cell((cs['correct'], cs['pred']))} |")
    note = (f"\nStock detect-secrets ran on a random sample of {n_stock} secret records (seeded); everything "
            "else on all records. detect-secrets' own test cases are circular for it (see corpus README). "
            "PII: a prediction is correct if it overlaps a gold span of the same common type; stock presidio = "
            "predefined pattern recognizers + phone recognizer at threshold 0, no NLP model. "
            "Command: `.venv/bin/python bench/redaction_quality.py --write`.\n")
    replace_section("quality", "\n".join(lines) + "\n" + note)


if __name__ == "__main__":
    main()
