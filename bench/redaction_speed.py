"""Redaction speed: ours vs stock presidio + detect-secrets, same prompts, same run.

Usage: .venv/bin/python bench/redaction_speed.py [--keystrokes 300] [--no-write]

Prompts are real Python source (installed packages, deterministic order) with secrets and PII
generated at run time planted in them. Cases:
- 8 KB and 64 KB prompts never seen before ("cold": every line is new to the cache);
- the same prompts sent again ("repeat");
- a keystroke sequence: each prompt differs from the previous one by one line (the line being
  typed grows by a character, a new line every 20 keystrokes), amortised per prompt.
Each engine runs in its own child process so that its peak RSS is its own, and freezes its
start-up objects out of the garbage collector's reach after building, as the proxy does.
Stock = detect-secrets default plugins/filters line by line + presidio's predefined pattern
recognizers and phone recognizer over the whole text (no NLP engine, i.e. cheaper than
AnalyzerEngine with spaCy). Results go to bench/README-redaction.md (speed section).
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
README = REPO / "bench" / "README-redaction.md"


def source_material() -> str:
    """Deterministic real code: the sources of a few installed pure-Python packages."""
    site = next(p for p in sys.path if p.endswith("site-packages"))
    files: list[Path] = []
    for pkg in ("httpx", "starlette", "yaml", "click"):
        files.extend(sorted((Path(site) / pkg).glob("*.py")))
    return "\n".join(f.read_text(encoding="utf-8", errors="replace") for f in files)


def planted_lines(rng: random.Random, n: int) -> list[str]:
    """Credential and PII lines generated now (never stored in the repo)."""
    alnum = string.ascii_letters + string.digits

    def r(k: int, alphabet: str = alnum) -> str:
        return "".join(rng.choice(alphabet) for _ in range(k))

    makers = [
        lambda: f'GITHUB_TOKEN = "ghp_{r(36)}"',
        lambda: f'OPENAI_API_KEY = "sk-proj-{r(64)}"',
        lambda: f"DATABASE_URL = 'postgres://app:{r(16)}@db.internal:5432/app'",
        lambda: f'password = "{r(20)}"',
        lambda: f"# contact: dev{r(4, string.digits)}@example.com, call +1 212 555 {r(4, string.digits)}",
        lambda: f'aws_secret_access_key = "{r(40)}"',
    ]
    return [makers[i % len(makers)]() for i in range(n)]


def make_prompt(src: str, offset: int, size: int, rng: random.Random) -> str:
    """`size` characters of code starting near `offset`, with a few planted values."""
    text = src[offset:offset + size]
    lines = text.split("\n")
    for i, line in enumerate(planted_lines(rng, max(2, size // 4096))):
        lines.insert((i * 37) % max(1, len(lines)), line)
    return "\n".join(lines)[:size]


def keystroke_sequence(base: str, n: int) -> list[str]:
    """Prompts where each differs from the last by one line (the one being typed)."""
    lines = base.split("\n")
    cursor = len(lines) // 2
    typed = "result = compute_total(items, tax_rate=0.2, discount=None)  # recalc"
    prompts = []
    current = ""
    for k in range(n):
        if k % 20 == 0:
            cursor += 1
            lines.insert(cursor, "")
            current = "    "
        current += typed[k % len(typed)]
        lines[cursor] = current
        prompts.append("\n".join(lines))
    return prompts


def timed(fn: Callable[[str], object], texts: list[str]) -> list[float]:
    """Milliseconds per call."""
    out = []
    for t in texts:
        t0 = time.perf_counter()
        fn(t)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def engine_ours() -> tuple[Callable[[str], object], float]:
    """Our Scanner and its build time (ms)."""
    from redaction import Scanner

    t0 = time.perf_counter()
    scanner = Scanner()
    return scanner.scan, (time.perf_counter() - t0) * 1000


def engine_stock() -> tuple[Callable[[str], object], float]:
    """Stock detect-secrets + presidio pattern recognizers, and their build time (ms)."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(REPO / "bench"))
    import redaction_quality as q

    ds = q.stock_detect_secrets()
    pr = q.stock_presidio()

    def scan(text: str) -> object:
        return ds(text), pr(text)

    return scan, (time.perf_counter() - t0) * 1000


def run_engine(name: str, keystrokes: int, reps: int) -> dict:
    """All cases for one engine (called in a child process)."""
    src = source_material()
    rng = random.Random(11)
    scan, build_ms = engine_ours() if name == "ours" else engine_stock()
    scan("warm-up: lazy tables load here, mail a@example.com, 203.0.113.1, token = 'x'")
    # As `customs run` does once its detectors are loaded: the long-lived objects leave the
    # collector's reach, so a full collection does not walk them in the middle of a scan.
    gc.freeze()
    res: dict = {"engine": name, "build_ms": build_ms}
    stride = max(1, (len(src) - 70_000) // (reps + 1))
    for label, size in (("8k", 8192), ("64k", 65536)):
        n = reps if size == 8192 else max(3, reps // 4)
        prompts = [make_prompt(src, 1000 + i * stride, size, rng) for i in range(n)]
        cold = timed(scan, prompts)
        repeat = timed(scan, prompts)
        res[f"{label}_cold_ms"] = statistics.median(cold)
        res[f"{label}_repeat_ms"] = statistics.median(repeat)
    for label, size in (("8k", 8192), ("64k", 65536)):
        n = keystrokes if (name == "ours" or size == 8192) else max(10, keystrokes // 10)
        n = n if name == "ours" else min(n, 30)
        seq = keystroke_sequence(make_prompt(src, 200_000 % max(1, len(src) - size), size, rng), n)
        scan(seq[0])  # the file was sent once before typing started
        t = timed(scan, seq[1:])
        res[f"{label}_keystroke_ms"] = sum(t) / len(t)
        res[f"{label}_keystroke_n"] = len(t)
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


def write_readme(ours: dict, stock: dict, args: argparse.Namespace) -> str:
    """Markdown speed table; replaces the speed section of bench/README-redaction.md."""
    rows = [
        ("8 KB prompt, first time (cold)", "8k_cold_ms", "<= 0.5 ms"),
        ("8 KB prompt, sent again", "8k_repeat_ms", ""),
        ("64 KB prompt, first time (cold)", "64k_cold_ms", "<= 4 ms"),
        ("64 KB prompt, sent again", "64k_repeat_ms", ""),
        ("keystroke sequence, 8 KB file (per prompt, amortised)", "8k_keystroke_ms", "<= 0.1 ms"),
        ("keystroke sequence, 64 KB file (per prompt, amortised)", "64k_keystroke_ms", ""),
    ]
    lines = [
        "| case | ours | stock presidio + detect-secrets | speed-up | target |",
        "|---|---:|---:|---:|---|",
    ]
    for label, key, target in rows:
        o, s = ours[key], stock[key]
        lines.append(f"| {label} | {o:.3f} ms | {s:.1f} ms | {s / o:,.0f}x | {target} |")
    lines.append(f"| engine build (once per process) | {ours['build_ms']:.0f} ms | {stock['build_ms']:.0f} ms | | |")
    lines.append(f"| peak RSS of the process | {ours['peak_rss_mb']:.0f} MB | {stock['peak_rss_mb']:.0f} MB | | |")
    machine = subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip()
    note = (
        f"\nMedians over {args.reps} cold 8 KB prompts ({max(3, args.reps // 4)} at 64 KB); keystroke rows "
        f"average {ours['8k_keystroke_n']} (ours) / {stock['8k_keystroke_n']} (stock) consecutive prompts. "
        f"Python {sys.version.split()[0]}, {machine}. Command: `.venv/bin/python bench/redaction_speed.py`.\n"
    )
    return "\n".join(lines) + "\n" + note


def replace_section(name: str, body: str) -> None:
    """Replace <!-- name:start --> ... <!-- name:end --> in README-redaction.md (create if missing)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = README.read_text() if README.exists() else "# Redaction: measured results\n"
    block = f"{start}\n{body}{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + f"\n\n## {name.capitalize()}\n\n{block}\n"
    README.write_text(text)


def main() -> None:
    """Run both engines in child processes and report."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=("ours", "stock"))
    ap.add_argument("--keystrokes", type=int, default=300)
    ap.add_argument("--reps", type=int, default=12)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.engine:
        print(json.dumps(run_engine(args.engine, args.keystrokes, args.reps)))
        return
    results = {}
    for engine in ("ours", "stock"):
        out = subprocess.run(
            [sys.executable, __file__, "--engine", engine, "--keystrokes", str(args.keystrokes), "--reps", str(args.reps)],
            capture_output=True, text=True, check=True, timeout=900,
        )
        results[engine] = json.loads(out.stdout.strip().splitlines()[-1])
    table = write_readme(results["ours"], results["stock"], args)
    print(table)
    if not args.no_write:
        replace_section("speed", table)


if __name__ == "__main__":
    main()
