"""`customs policy test|check|replay`: review tools for the policy bundle, run in process."""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from proxy.policy import (
    DECISION_ENTRYPOINT,
    WITH_WHOLE_INPUT,
    EmbeddedEngine,
    Evaluator,
    PolicyBundle,
    PolicyConfig,
    PolicyLoadError,
    PolicyUnavailable,
    compile_modules,
    is_test_module,
    read_bundle,
)

PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.M)
# A rule head at the start of a line: `name if`, `name := `, `name contains`, `name[k] := `, ...
RULE_HEAD = re.compile(r"^(?:default\s+)?([a-z_][A-Za-z0-9_]*)\s*(?:\[[^\]\n]*\]\s*)?(?::=|=|contains\b|if\b|\{)", re.M)
TEST_RULE = re.compile(r"^(test_[A-Za-z0-9_]*)\b", re.M)
KEYWORDS = {"package", "import", "default", "else", "some", "every", "not", "with", "as", "in", "if", "contains"}
# regopy puts quotes around strings built by other built-ins when they pass through sprintf's
# %s/%v, and leaves them unescaped in its JSON output; concat() is safe.
SPRINTF_STRING = re.compile(r"\bsprintf\(\s*\"[^\"]*%[sv]")
# regopy evaluates `with x as <rule name>` to undefined; a local variable works.
WITH_AS_NAME = re.compile(r"\bwith\s+[\w.]+\s+as\s+([a-z_]\w*)\b(?!\s*[(.\[])")
# regopy's parser rejects `some k, v in x` inside set/array comprehensions.
SOME_PAIR_IN_COMPREHENSION = re.compile(r"[\[{][^\[\]{}|]*\|\s*some\s+\w+\s*,\s*\w+\s+in\b")


def package_of(source: str) -> str:
    """The package a Rego module declares ('' if none)."""
    m = PACKAGE.search(source)
    return m.group(1) if m else ""


def entrypoint(package: str, rule: str) -> str:
    """regopy's entrypoint spelling of data.<package>.<rule>."""
    return "/".join(package.split(".") + [rule])


# ---------------------------------------------------------------------------------------------
# policy test


@dataclass(frozen=True, slots=True)
class TestResult:
    name: str  # data.<package>.<rule>
    module: str
    outcome: str  # pass | fail | error
    detail: str = ""
    duration_ms: float = 0.0


@dataclass(slots=True)
class TestReport:
    results: list[TestResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the bundle could not be compiled

    @property
    def passed(self) -> int:
        return sum(r.outcome == "pass" for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.outcome != "pass" for r in self.results)

    @property
    def ok(self) -> bool:
        return not self.errors and self.failed == 0 and self.passed > 0


def discover_tests(bundle: PolicyBundle) -> list[tuple[str, str, str]]:
    """(module, package, rule) for every `test_*` rule of the test modules, in file order."""
    found: list[tuple[str, str, str]] = []
    for path, source in sorted(bundle.test_modules.items()):
        pkg = package_of(source)
        seen: set[str] = set()
        for m in TEST_RULE.finditer(source):
            if m.group(1) not in seen:  # several bodies of one rule are one test
                seen.add(m.group(1))
                found.append((path, pkg, m.group(1)))
    return found


def run_tests(policy_dir: str | Path) -> TestReport:
    """Evaluate every `test_*` rule of the bundle with regopy; a test passes when it is true.

    Each test module is compiled on its own with the policy modules: regopy's cost for `with`
    grows with every test in one compilation, so this keeps memory bounded by the largest module.
    """
    report = TestReport()
    try:
        bundle = read_bundle(policy_dir)
    except PolicyLoadError as exc:
        report.errors.append(str(exc))
        return report
    tests = discover_tests(bundle)
    by_module: dict[str, list[tuple[str, str, str]]] = {}
    for t in tests:
        by_module.setdefault(t[0], []).append(t)
    for module, module_tests in by_module.items():
        modules = dict(bundle.policy_modules)
        modules[module] = bundle.modules[module]
        try:
            compiled = compile_modules(modules, bundle.data_document(),
                                       [entrypoint(pkg, rule) for _, pkg, rule in module_tests])
        except PolicyLoadError as exc:
            report.errors.append(f"{module}: {exc}")
            continue
        evaluator = Evaluator(compiled)
        for _, pkg, rule in module_tests:
            report.results.append(_run_one(evaluator, module, pkg, rule))
    return report


def _run_one(evaluator: Evaluator, module: str, pkg: str, rule: str) -> TestResult:
    started = time.perf_counter()
    try:
        defined, value = evaluator.run(entrypoint(pkg, rule), "{}")
        if defined and value is True:
            outcome, detail = "pass", ""
        else:
            outcome, detail = "fail", "undefined" if not defined else f"evaluated to {json.dumps(value)}"
    except PolicyUnavailable as exc:
        outcome, detail = "error", str(exc)
    return TestResult(f"data.{pkg}.{rule}", module, outcome, detail, (time.perf_counter() - started) * 1000)


def print_test_report(report: TestReport, out: TextIO, verbose: bool = False) -> None:
    """Print like a test runner: failures with details, then a summary line."""
    for err in report.errors:
        print(f"ERROR {err}", file=out)
    for r in report.results:
        if r.outcome != "pass":
            print(f"{r.outcome.upper():5} {r.name} ({r.module}): {r.detail}", file=out)
        elif verbose:
            print(f"PASS  {r.name} ({r.duration_ms:.2f} ms)", file=out)
    if not report.results and not report.errors:
        print("no test_* rules found", file=out)
    print(f"{report.passed} passed, {report.failed} failed", file=out)


def _cmd_test(args: argparse.Namespace) -> int:
    report = run_tests(args.dir)
    print_test_report(report, sys.stdout, args.verbose)
    return 0 if report.ok else 1


# ---------------------------------------------------------------------------------------------
# policy check


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}"


def rule_names(source: str) -> set[str]:
    """Top-level rule names a module defines (not functions)."""
    names = set()
    for m in RULE_HEAD.finditer(source):
        name = m.group(1)
        if name not in KEYWORDS:
            names.add(name)
    return names


def lint(bundle: PolicyBundle) -> list[Problem]:
    """Style and portability rules the project holds every module to."""
    problems: list[Problem] = []
    for path, source in sorted(bundle.modules.items()):
        pkg = package_of(source)
        if not pkg:
            problems.append(Problem(path, "no package declaration"))
        elif pkg != "customs" and not pkg.startswith("customs."):
            problems.append(Problem(path, f"package {pkg} is not under customs.*"))
        if not re.search(r"^import rego\.v1\s*$", source, re.M):
            problems.append(Problem(path, "does not `import rego.v1`"))
        if is_test_module(path):
            if WITH_WHOLE_INPUT.search(source):
                problems.append(Problem(path, "`with input as` aborts the embedded engine; use `with input.<field> as`"))
            rules = rule_names(source)
            for name in sorted({m.group(1) for m in WITH_AS_NAME.finditer(source)} & rules):
                problems.append(Problem(path, f"`with ... as {name}` names a rule, which regopy evaluates to "
                                              f"undefined; bind it to a local first"))
            if not TEST_RULE.search(source):
                problems.append(Problem(path, "test module without test_* rules"))
            continue
        test_path = path.removesuffix(".rego") + "_test.rego"
        if test_path not in bundle.modules:
            problems.append(Problem(path, f"no tests: {test_path} is missing"))
        if SPRINTF_STRING.search(source):
            problems.append(Problem(path, "sprintf with %s/%v garbles computed strings in regopy; use concat",
                                    "warning"))
        if SOME_PAIR_IN_COMPREHENSION.search(source):
            problems.append(Problem(path, "`some k, v in` inside a comprehension does not parse in regopy"))
    return problems


def check_bundle(policy_dir: str | Path) -> list[Problem]:
    """Lint, then compile the policy modules with every rule as an entrypoint (so unsupported
    built-ins anywhere are found)."""
    try:
        bundle = read_bundle(policy_dir)
    except PolicyLoadError as exc:
        return [Problem(str(policy_dir), str(exc))]
    problems = lint(bundle)
    # Test modules are compiled by `policy test` (one at a time; `with` is costly in regopy).
    modules = bundle.policy_modules
    entrypoints = [entrypoint(package_of(src), name)
                   for src in modules.values() if package_of(src)
                   for name in sorted(rule_names(src))]
    try:
        compile_modules(modules, bundle.data_document(), entrypoints or [DECISION_ENTRYPOINT])
    except PolicyLoadError as exc:
        problems.insert(0, Problem(str(policy_dir), str(exc)))
    return problems


def _cmd_check(args: argparse.Namespace) -> int:
    problems = check_bundle(args.dir)
    for p in problems:
        print(p)
    errors = sum(p.severity == "error" for p in problems)
    print(f"{errors} errors, {len(problems) - errors} warnings")
    return 1 if errors else 0


# ---------------------------------------------------------------------------------------------
# policy replay


@dataclass(frozen=True, slots=True)
class ReplayRecord:
    id: str
    time: datetime | None
    input: dict[str, Any]
    decision: dict[str, Any]  # as recorded (Decision.as_audit() or the raw policy decision)


@dataclass(frozen=True, slots=True)
class Change:
    id: str
    time: datetime | None
    before: dict[str, Any]  # normalised
    after: dict[str, Any]
    fields: tuple[str, ...]  # which normalised fields differ


def parse_since(text: str) -> timedelta:
    """'7d', '12h', '30m', '2w' -> timedelta."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (use e.g. 7d, 12h, 30m)")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return timedelta(**{unit: int(m.group(1))})


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    if isinstance(value, str) and value:
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=UTC)
    return None


def records_from_jsonl(path: str | Path) -> Iterator[ReplayRecord]:
    """Recorded inputs, one JSON object per line: {"id","time","input","decision"}."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from None
            inp = row.get("input")
            if isinstance(inp, str):  # the audit trail stores the input as JSON text
                inp = json.loads(inp)
            dec = row.get("decision")
            if isinstance(dec, str):
                dec = json.loads(dec)
            yield ReplayRecord(str(row.get("id", n)), _parse_time(row.get("time")), inp or {}, dec or {})


def normalise(decision: dict[str, Any]) -> dict[str, Any]:
    """The parts of a decision a reviewer cares about, comparable across record formats."""
    route = decision.get("route")
    if isinstance(route, dict):
        route = route.get("endpoint") or ""
    reasons = decision.get("reasons") or []
    out = {
        "allow": bool(decision.get("allow", True)),
        "rules": sorted({r.get("rule", "") if isinstance(r, dict) else str(r) for r in reasons}),
        "route": route or "",
        "max_tokens": decision.get("max_tokens"),
        "audit_level": decision.get("audit_level") or "full",
    }
    # A record that did not keep a field (the audit trail keeps allow, rules and audit level)
    # is compared on the fields it has, so replay reports real changes only.
    return {k: v for k, v in out.items() if k in ("allow", "rules") or k in decision}


def replay(
    policy_dir: str | Path,
    records: Iterable[ReplayRecord],
    since: timedelta | None = None,
    now: datetime | None = None,
) -> tuple[int, list[Change]]:
    """Evaluate a proposed bundle against recorded inputs; (records evaluated, changed ones)."""
    engine = EmbeddedEngine(PolicyConfig(dir=str(policy_dir), reload_interval_s=1e9))
    cutoff = (now or datetime.now(UTC)) - since if since else None
    evaluated = 0
    changes: list[Change] = []
    for rec in records:
        if cutoff and rec.time and rec.time < cutoff:
            continue
        evaluated += 1
        before = normalise(rec.decision)
        try:
            after = normalise(engine.evaluate(rec.input) or {})
        except PolicyUnavailable as exc:
            after = {"allow": False, "rules": [f"error: {exc}"], "route": "", "max_tokens": None,
                     "audit_level": "full"}
        diff = tuple(k for k in before if before[k] != after.get(k))
        if diff:
            changes.append(Change(rec.id, rec.time, before, after, diff))
    engine.close()
    return evaluated, changes


def _verdict(d: dict[str, Any]) -> str:
    return "allow" if d["allow"] else "deny"


def print_changes(evaluated: int, changes: list[Change], out: TextIO) -> None:
    """One line per changed decision: id, before -> after, and what changed."""
    for c in changes:
        parts = [f"{_verdict(c.before)} -> {_verdict(c.after)}"]
        added = sorted(set(c.after["rules"]) - set(c.before["rules"]))
        removed = sorted(set(c.before["rules"]) - set(c.after["rules"]))
        if added:
            parts.append("+" + ",+".join(added))
        if removed:
            parts.append("-" + ",-".join(removed))
        for key in ("route", "max_tokens", "audit_level"):
            if key in c.fields:
                parts.append(f"{key} {c.before[key] or '-'} -> {c.after[key] or '-'}")
        when = c.time.strftime("%Y-%m-%dT%H:%M:%SZ") if c.time else "-"
        print(f"{c.id}  {when}  " + "  ".join(parts), file=out)
    print(f"{len(changes)} of {evaluated} decisions would change", file=out)


RecordSource = Callable[[timedelta | None], Iterable[ReplayRecord]]


def _cmd_replay(args: argparse.Namespace, audit_source: RecordSource | None) -> int:
    if args.inputs:
        records: Iterable[ReplayRecord] = records_from_jsonl(args.inputs)
    elif audit_source is not None:
        records = audit_source(args.since)
    else:
        print("no recorded inputs: pass --inputs FILE.jsonl", file=sys.stderr)
        return 2
    try:
        evaluated, changes = replay(args.policy, records, args.since)
    except (PolicyUnavailable, ValueError, OSError) as exc:
        print(f"replay failed: {exc}", file=sys.stderr)
        return 2
    print_changes(evaluated, changes, sys.stdout)
    return 1 if changes and args.fail_on_change else 0


# ---------------------------------------------------------------------------------------------
# argparse wiring


def add_parser(subparsers: Any, audit_source: RecordSource | None = None) -> None:
    """Register `policy test|check|replay` under the `customs` CLI.

    `audit_source(since)` yields recorded inputs from the audit trail for `replay` without
    --inputs; the CLI wires it once the audit store can serve them.
    """
    policy = subparsers.add_parser("policy", help="test, check and replay the Rego policy bundle")
    sub = policy.add_subparsers(dest="policy_command", required=True)

    test = sub.add_parser("test", help="run every test_* rule in the bundle")
    test.add_argument("--dir", default="policies", help="policy bundle directory")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    test.set_defaults(func=_cmd_test)

    check = sub.add_parser("check", help="compile (unsupported built-ins included) and lint")
    check.add_argument("--dir", default="policies", help="policy bundle directory")
    check.set_defaults(func=_cmd_check)

    rep = sub.add_parser("replay", help="which recorded decisions a proposed bundle would change")
    rep.add_argument("--policy", required=True, help="the proposed policy bundle directory")
    rep.add_argument("--since", type=parse_since, default=None, help="only inputs this recent (7d, 12h)")
    rep.add_argument("--inputs", help="JSONL of recorded {id,time,input,decision}")
    rep.add_argument("--fail-on-change", action="store_true", help="exit 1 when any decision changes")
    rep.set_defaults(func=lambda args: _cmd_replay(args, audit_source))
