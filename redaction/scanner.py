"""The Scanner: one Hyperscan pass for candidates, the owning libraries' checks for spans.

Flow for `scan(text)`:
1. split into lines; lines seen before come from a bounded LRU keyed by their content
   (Copilot resends nearly the same file on every keystroke, so almost every line hits);
2. the distinct new lines are joined and scanned once by Hyperscan, which reports which
   shaped-secret, PII and license anchors occur in which lines, where secret keywords end,
   which lines are lock-file lines, hold a run of >= 20 token characters, or need normalising
   (zero-width characters, JSON/URL escapes: only those lines are normalised, with an offset
   map back, and re-scanned); lines with none of these cost nothing more. Only the anchored
   rules' confirming regexes / presidio recognizers run (on bounded windows for long lines;
   IBAN/IP recognizers only when a stricter necessary condition holds on short lines);
3. random-looking tokens go through the generic rule (detect-secrets' heuristic filters plus
   hash/URL/identifier contexts): short tokens on keyword lines, long ones on long-run lines;
   keyword assignments are matched from the keyword ends, and base64 runs are decoded and
   scanned (a secret inside masks the whole blob);
4. multi-line shapes (PEM blocks, XML-element values, Kubernetes Secret data) are found on
   the whole text when their anchor is present;
5. overlaps are resolved (shaped secrets, validated PII, entropy guesses, other PII, license;
   higher score and longer span first).
"""
from __future__ import annotations

import base64
import binascii
import bisect
import itertools
import re
import threading
from collections import OrderedDict, deque
from itertools import accumulate, compress, islice, repeat
from operator import add, is_, methodcaller, not_
from typing import Iterable

import hyperscan

from .config import ScannerConfig
from .findings import Finding
from .generic_secrets import (
    KEYWORD,
    KEYWORD_PATTERNS,
    LOCKFILE_PATTERNS,
    LONG_RUN_END,
    LONG_TOKEN,
    TOKEN,
    assigned_values,
    hash_context,
    in_url_path,
    is_random_token,
    plausible_rule_value,
)
from .license_rules import ANCHORS as LICENSE_ANCHORS
from .license_rules import GPL_TEXT, PROPRIETARY, SPDX, gpl_type
from .normalize import ESCAPE_ANCHORS, Normalized, normalize
from .pii import build_pii_rules
from .secret_rules import SecretRule, build_rules, kubernetes_secret_values

# A cached line result: (kind, type, start, end, score, detector) relative to the line.
_Hit = tuple[str, str, int, int, float, str]
_HAS_DIGIT = re.compile(r"\d")
_B64 = re.compile(r"^[A-Za-z0-9+/_\-]+={0,2}$")
_PRINTABLE = re.compile(r"[\x20-\x7e\t\r\n]")

_SECRET, _PII, _LICENSE, _KEYWORD, _LOCKFILE, _LONG_RUN, _PII_STRICT, _ESCAPE, _MULTI = 0, 1, 2, 3, 4, 5, 6, 7, 8
# Multi-line shapes are matched on the whole text, but their anchors hold no newline, so the
# per-line pass can tell which of them a text may hold: it leaves a marker hit of this kind in
# the (cached) line results, typed with the multi-line rule's index or _K8S. scan() takes the
# markers out before anything else sees the hits.
_MARKER = "multiline-anchor"
_K8S = "k8s"
# Lines longer than this get PII recognizers on windows around anchors, not on the whole line
# (presidio's regexes and phonenumbers are super-linear on long digit/colon-heavy lines).
_WINDOW_LINE = 512
_WINDOW_PAD = 64
_WINDOW_MAX = 512
_WARM_UP = "mail a.b@example.co.uk, call +1 (212) 555-0187 or 020 7946 0958, 198.51.100.7, token = 'x'"
# Every recognizer compiles its patterns (regex module) on first use, and phonenumbers loads a
# region's metadata on first parse: shapes of each kind, for the warm-up below.
_WARM_UP_PII = ("ids 0123456789 1234567 123-45-6789 078-05-1120 912-70-1234 4111 1111 1111 1111 "
                "DE89 3704 0044 0532 0130 00 00:1A:2B:3C:4D:5E 0000.5e00.5301 1BoatSLRHtKNngkdXEeobR76b53LETtpyT "
                "fe80::1 ::1 +49 30 1234567 +91 98765 43210 +55 11 91234 5678 +972 2 123 4567 +1 416 555 0123")
_ENCODE_UTF8 = methodcaller("encode", "utf-8", "surrogatepass")
_PLAIN_TEXT = "\x00plain"  # _decoded_secret: decodes to readable text with no secret in it


class Scanner:
    """Finds secrets, PII and license markers in text. Build once (engines compile), share freely."""

    def __init__(self, config: ScannerConfig | None = None) -> None:
        self.config = config or ScannerConfig()
        cfg = self.config
        rules = build_rules() if cfg.secrets else []
        self._line_rules: list[SecretRule] = [r for r in rules if not r.multiline]
        self._multi_rules: list[SecretRule] = [r for r in rules if r.multiline]
        self._pii_rules = build_pii_rules(cfg.pii_types) if cfg.pii else []
        self._cache: OrderedDict[str, tuple[_Hit, ...]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._local = threading.local()
        # Hyperscan ids -> (category, index into that category's rule list).
        exprs: list[bytes] = []
        flags: list[int] = []
        self._ids: list[tuple[int, int]] = []
        for i, rule in enumerate(self._line_rules):
            for anchor in rule.anchors:
                exprs.append(re.escape(anchor).encode())
                flags.append(hyperscan.HS_FLAG_CASELESS if rule.caseless else 0)
                self._ids.append((_SECRET, i))
        for i, prule in enumerate(self._pii_rules):
            for anchor in prule.anchors:
                exprs.append(anchor.encode())
                flags.append(hyperscan.HS_FLAG_SOM_LEFTMOST)
                self._ids.append((_PII, i))
        if cfg.license:
            for anchor in LICENSE_ANCHORS:
                exprs.append(re.escape(anchor).encode())
                flags.append(hyperscan.HS_FLAG_CASELESS)
                self._ids.append((_LICENSE, 0))
        if cfg.secrets:
            for pattern, caseless in KEYWORD_PATTERNS:
                exprs.append(pattern.encode())
                flags.append(hyperscan.HS_FLAG_CASELESS if caseless else 0)
                self._ids.append((_KEYWORD, 0))
            for pattern in LOCKFILE_PATTERNS:
                exprs.append(pattern.encode())
                flags.append(0)
                self._ids.append((_LOCKFILE, 0))
            exprs.append(LONG_RUN_END.encode())
            flags.append(0)
            self._ids.append((_LONG_RUN, 0))
        for i, prule in enumerate(self._pii_rules):
            for anchor in prule.strict:
                exprs.append(anchor.encode())
                flags.append(0)
                self._ids.append((_PII_STRICT, i))
        self._db: hyperscan.Database | None = None
        if exprs:
            # Lines that need normalising (zero-width characters, \uXXXX / %XX escapes).
            for anchor_bytes in ESCAPE_ANCHORS:
                exprs.append(anchor_bytes)
                flags.append(0)
                self._ids.append((_ESCAPE, 0))
            for i, rule in enumerate(self._multi_rules):
                for anchor in rule.anchors:
                    exprs.append(re.escape(anchor).encode())
                    flags.append(0)  # as `anchor in text`
                    self._ids.append((_MULTI, i))
            if self._multi_rules:
                # A "kind: secret" line holds "nd:"; caseless 'n' and 'd' are ASCII-only (see
                # secret_rules._ND_COLON), so Hyperscan's ASCII caselessness is exact here.
                exprs.append(b"nd:")
                flags.append(hyperscan.HS_FLAG_CASELESS)
                self._ids.append((_MULTI, -1))
            self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            self._db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)

        # Load what the libraries load lazily (tldextract's suffix snapshot, phonenumbers
        # metadata) now, so the first real request does not pay for it.
        self.scan(_WARM_UP)
        for rule in self._pii_rules:
            rule.recognizer.analyze(_WARM_UP_PII, [rule.entity], None)  # type: ignore[arg-type]
        self._cache.clear()

    def __repr__(self) -> str:
        return f"Scanner(config={self.config!r})"

    # ------------------------------------------------------------------ public

    def scan(self, text: str) -> list[Finding]:
        """Findings in `text`: sorted by start, non-overlapping, spans index the original text."""
        if not text:
            return []
        lines = text.split("\n")
        per_line = self._line_results(lines)
        hits: list[tuple[str, str, int, int, float, str]] = []
        multiline: set[str] = set()
        offset = prev = 0
        rest = iter(lines)
        for i in compress(range(len(lines)), per_line):  # lines with hits (most have none)
            offset += sum(map(len, islice(rest, i - prev))) + (i - prev)  # lines prev .. i-1
            prev = i
            for k, t, s, e, sc, d in per_line[i]:
                if k == _MARKER:
                    multiline.add(t)
                else:
                    hits.append((k, t, offset + s, offset + e, sc, d))
        if multiline:
            hits.extend(self._multiline_hits(text, multiline))
        return [Finding(k, t, s, e, sc, d) for k, t, s, e, sc, d in _resolve(hits)]  # type: ignore[arg-type]

    # ------------------------------------------------------------------ lines

    def _line_results(self, lines: list[str]) -> list[tuple[_Hit, ...]]:
        cache = self._cache
        with self._cache_lock:
            # The keystroke hot path: one dict lookup per line (very short lines are stored too),
            # looped in C; seen lines move to the LRU's young end, in line order.
            out: list[tuple[_Hit, ...] | None] = list(map(cache.get, lines))
            n_missing = out.count(None)
            if not n_missing:
                deque(map(cache.move_to_end, lines), 0)
                return out  # type: ignore[return-value]
            if n_missing <= 64:  # a keystroke: find the few new lines, touch the runs between them
                missing: list[int] = []
                i = -1
                for _ in range(n_missing):
                    i = out.index(None, i + 1)
                    missing.append(i)
                prev = 0
                for i in missing:
                    deque(map(cache.move_to_end, lines[prev:i]), 0)
                    prev = i + 1
                deque(map(cache.move_to_end, lines[prev:]), 0)
                new_lines = list(dict.fromkeys(map(lines.__getitem__, missing)))
            else:  # a new file: whole-list passes in C, no per-line Python
                is_new = list(map(is_, out, repeat(None)))
                deque(map(cache.move_to_end, compress(lines, map(not_, is_new))), 0)
                new_lines = list(dict.fromkeys(compress(lines, is_new)))
        # A line's result depends on its content only: scan each distinct new line once.
        fresh = self._scan_lines(new_lines, depth=0)
        with self._cache_lock:
            cache.update(zip(new_lines, fresh))
            # New lines read their result back before anything is evicted; the others keep what
            # was read above (the default) if another thread's batch evicted them meanwhile.
            merged = list(map(cache.get, lines, out))
            while len(cache) > self.config.cache_size:
                cache.popitem(last=False)
        return merged  # type: ignore[return-value]

    def _scratch(self) -> hyperscan.Scratch:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = hyperscan.Scratch(self._db)
            self._local.scratch = scratch
        return scratch

    def _anchor_hits(self, lines: list[str], joined: str, starts: list[int]) -> tuple[
            dict[int, set[tuple[int, int]]], dict[tuple[int, int], list[tuple[int, int]]], dict[int, list[int]],
            set[int], set[tuple[int, int]], set[int], set[tuple[int, int]]]:
        """One Hyperscan pass over all new lines (`joined`, whose lines begin at `starts`).

        Returns which (category, rule) anchors occur in which line (lines without any are
        absent: that is most of them), and for PII anchors on long lines the anchor spans
        (line-relative character offsets), so that presidio runs on windows around the
        candidates instead of on a whole minified/generated line. Then the lines holding a
        run of >= 20 token characters (where LONG_TOKEN can match), the (line, PII rule)
        pairs whose strict anchors matched, the lines holding something to normalise, and the
        (line, multi-line rule) pairs whose anchors occur (-1: a Kubernetes Secret's "nd:").
        """
        found: dict[int, set[tuple[int, int]]] = {}
        spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
        long_lines: set[int] = set()
        strict: set[tuple[int, int]] = set()
        escapes: set[int] = set()
        multiline: set[tuple[int, int]] = set()
        if self._db is None:
            return found, spans, {}, long_lines, strict, escapes, multiline
        if joined.isascii():  # bytes are characters
            data = joined.encode("ascii")
            bstarts = starts
        else:
            data = joined.encode("utf-8", "surrogatepass")
            bstarts = _line_starts(list(map(_ENCODE_UTF8, lines)))
        ids = self._ids
        raw: dict[tuple[int, int], list[tuple[int, int]]] = {}
        kw_raw: dict[int, list[int]] = {}
        line_of = bisect.bisect_right

        def on_match(id_: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            # The anchor lies in the line that contains its last byte.
            li = line_of(bstarts, end - 1 if end else 0) - 1
            key = ids[id_]
            if key[0] >= _LONG_RUN:  # side information, not rule anchors
                if key[0] == _LONG_RUN:
                    long_lines.add(li)
                elif key[0] == _PII_STRICT:
                    strict.add((li, key[1]))
                elif key[0] == _ESCAPE:
                    escapes.add(li)
                else:
                    multiline.add((li, key[1]))
                return
            rules = found.get(li)
            if rules is None:
                found[li] = {key}
            else:
                rules.add(key)
            if key[0] == _KEYWORD:
                kw_raw.setdefault(li, []).append(end)
            elif key[0] == _PII and len(lines[li]) > _WINDOW_LINE:
                raw.setdefault((li, key[1]), []).append((start, end))

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        char_offsets: dict[int, list[int]] = {}

        def to_chars(li: int, b: int) -> int:
            """Line-relative character offset of batch byte offset `b` (end-exclusive)."""
            rel = b - bstarts[li]
            line = lines[li]
            if line.isascii():
                return rel
            ends = char_offsets.get(li)
            if ends is None:
                ends = char_offsets[li] = list(itertools.accumulate(
                    len(ch.encode("utf-8", "surrogatepass")) for ch in line))
            return bisect.bisect_left(ends, rel) + 1 if rel else 0

        for (li, idx), byte_spans in raw.items():
            spans[(li, idx)] = [(max(0, to_chars(li, s + 1) - 1), to_chars(li, e)) for s, e in byte_spans]
        kw_ends = {li: sorted({to_chars(li, e) for e in ends}) for li, ends in kw_raw.items()}
        return found, spans, kw_ends, long_lines, strict, escapes, multiline

    def _scan_lines(self, raw_lines: list[str], depth: int) -> list[tuple[_Hit, ...]]:
        """Hits for lines not in the cache, with spans indexing the raw (un-normalised) lines."""
        lines = raw_lines
        joined = "\n".join(lines)
        starts = _line_starts(lines)
        norms: dict[int, Normalized] = {}
        anchors, pii_spans, kw_ends, long_lines, strict, escapes, multiline = self._anchor_hits(lines, joined, starts)
        if escapes:
            # Only lines holding an escape or invisible character change (the common case:
            # none, or a '%2F' somewhere); the rest are their own normal form. Detectors run
            # on normalised text, so then the pass is repeated on it.
            for li in sorted(escapes):
                norm = normalize(lines[li])
                if norm.edits:
                    norms[li] = norm
            if norms:
                lines = list(lines)
                for li, norm in norms.items():
                    lines[li] = norm.text
                joined = "\n".join(lines)
                starts = _line_starts(lines)
                # Everything the pass reports is line-relative: redo just the changed lines.
                changed = list(norms)
                sub = [lines[li] for li in changed]
                sub_found, sub_spans, sub_kw, sub_long, sub_strict, _, _ = self._anchor_hits(
                    sub, "\n".join(sub), _line_starts(sub))
                for li in changed:
                    anchors.pop(li, None)
                    kw_ends.pop(li, None)
                    long_lines.discard(li)
                for key in [k for k in pii_spans if k[0] in norms]:
                    del pii_spans[key]
                strict = {k for k in strict if k[0] not in norms}
                for j, rules in sub_found.items():
                    anchors[changed[j]] = rules
                for (j, idx), spans in sub_spans.items():
                    pii_spans[(changed[j], idx)] = spans
                for j, ends in sub_kw.items():
                    kw_ends[changed[j]] = ends
                long_lines.update(changed[j] for j in sub_long)
                strict.update((changed[j], idx) for j, idx in sub_strict)
        cfg = self.config
        results: dict[int, list[_Hit]] = {}
        lockfile_lines = {li for li, hit_rules in anchors.items() if (_LOCKFILE, 0) in hit_rules}
        for li, hit_rules in anchors.items():
            line = lines[li]
            hits = results[li] = []
            license_hit = False
            for cat, idx in hit_rules:
                if cat == _SECRET:
                    hits.extend(self._rule_hits(self._line_rules[idx], line))
                elif cat == _PII:
                    gate = self._pii_rules[idx].gate
                    if (gate is not None and len(line) <= _WINDOW_LINE and (li, idx) not in strict
                            and not gate(line)):
                        continue  # this recognizer cannot find anything in this line
                    hits.extend(self._pii_hits(idx, line, pii_spans.get((li, idx))))
                elif cat == _LICENSE:
                    license_hit = True
            if license_hit:
                hits.extend(_license_hits(line))
        if cfg.secrets:
            self._generic_hits(lines, joined, starts, kw_ends, long_lines, lockfile_lines, results, depth)
        # Multi-line anchors as seen in the raw lines (the whole-text rules run on raw text).
        for li, idx in multiline:
            results.setdefault(li, []).append((_MARKER, _K8S if idx < 0 else str(idx), 0, 0, 0.0, ""))
        out: list[tuple[_Hit, ...]] = [()] * len(lines)
        for li, hits in results.items():
            if not hits:
                continue
            norm = norms.get(li)
            if norm is not None:
                hits = [(k, t, *norm.to_original(s, e), sc, d) for k, t, s, e, sc, d in hits]
            out[li] = tuple(hits)
        return out

    def _generic_hits(self, lines: list[str], batch: str, line_starts: list[int], kw_ends: dict[int, list[int]],
                      long_lines: set[int], lockfile_lines: set[int], results: dict[int, list[_Hit]],
                      depth: int) -> None:
        """Random-looking tokens in the new lines (`batch`), judged per token."""
        b64_min = self.config.decode_base64_min_len
        candidates: list[tuple[int, int, int, str]] = []  # (line, start, end, token) in batch offsets
        judged: dict[tuple[str, bool], tuple[bool, float]] = {}

        def judge(tok: str, kw: bool) -> tuple[bool, float]:
            """is_random_token, once per distinct (token, keyword) (a keyword's value is often
            also a long token of its line)."""
            verdict = judged.get((tok, kw))
            if verdict is None:
                verdict = judged[(tok, kw)] = is_random_token(tok, kw)
            return verdict

        # A guess on exactly the span a shaped-secret rule already matched in its line can never
        # be kept: _resolve ranks the rule's hit first (rank 0, score 1.0, earlier in the line's
        # hits, so first on ties too) and drops every hit that overlaps a kept one; whatever
        # overlaps the rule's span overlaps the guess. So such values are not judged at all.
        claimed: dict[int, set[tuple[int, int]]] = {}
        for li, line_hits in results.items():
            spans = {(h[2], h[3]) for h in line_hits if h[5] == "rule"}
            if spans:
                claimed[li] = spans
        nothing: set[tuple[int, int]] = set()

        for li, ends in kw_ends.items():
            line = lines[li]
            base = line_starts[li]
            taken = claimed.get(li, nothing)
            # Quoted values after a keyword may hold punctuation a token never would.
            for vs, ve, value in assigned_values(line, ends):
                if (vs, ve) in taken:
                    continue
                ok, score = judge(value, True)
                if ok and li not in lockfile_lines:
                    results.setdefault(li, []).append(("secret", "GENERIC_SECRET", vs, ve, score, "keyword"))
            digits = _HAS_DIGIT.search(line) is not None  # most lines have none: no per-token search
            for m in TOKEN.finditer(line):
                tok = m.group()
                # Long ones (>= 20 token characters, as LONG_TOKEN) all count here; among short
                # ones, digit-free names (auth_flow, SessionStore) are identifiers, not values.
                if len(tok) >= 20:
                    if len(tok.rstrip("=")) < 20:
                        continue
                elif not ((digits and _HAS_DIGIT.search(tok)) or not (
                        tok.islower() or tok.isupper() or "_" in tok or "." in tok)):
                    continue
                candidates.append((li, base + m.start(), base + m.end(), tok))
        # Without a keyword only long tokens can count, and only in the lines where the Hyperscan
        # pass saw a long run; there, a digit-free one is no key (and too short to be base64).
        decodable = b64_min if depth == 0 else 1 << 62
        for li in sorted(long_lines):
            if li in kw_ends:
                continue  # its tokens came from TOKEN above
            for m in LONG_TOKEN.finditer(batch, line_starts[li], line_starts[li + 1] - 1):
                tok = m.group()
                if len(tok) >= decodable or _HAS_DIGIT.search(tok) is not None:
                    candidates.append((li, m.start(), m.end(), tok))
        for li, start, end, tok in candidates:
            kw = li in kw_ends
            n = end - start
            base = line_starts[li]
            if claimed and (start - base, end - base) in claimed.get(li, nothing):
                continue
            if n >= b64_min and depth == 0:
                inner = self._decoded_secret(tok)
                if inner == _PLAIN_TEXT:
                    if not kw:
                        continue  # base64 of ordinary text: encoded, not random
                elif inner is not None:
                    results.setdefault(li, []).append(("secret", inner, start - base, end - base, 1.0, "base64"))
                    continue
            line = lines[li]
            s, e = start - base, end - base
            # The context checks only reject, so the cheap ones may run before the verdict (URL
            # paths with a digit are common in code and docs, and look random enough to pass).
            if li in lockfile_lines or in_url_path(line, s):
                continue
            ok, score = judge(tok, kw)
            if not ok or hash_context(line, s):
                continue
            type_ = "GENERIC_SECRET" if kw else "HIGH_ENTROPY_STRING"
            results.setdefault(li, []).append(("secret", type_, s, e, score, "entropy"))

    @staticmethod
    def _rule_hits(rule: SecretRule, line: str) -> Iterable[_Hit]:
        if rule.needs and not all(literal in line for literal in rule.needs):
            return
        for m in rule.regex.finditer(line):
            if "s" in rule.regex.groupindex and m.group("s") is not None:
                s, e = m.span("s")
            else:
                s, e = m.span()
            if e > s and plausible_rule_value(rule.type, line[s:e], line[e:e + 1]):
                yield ("secret", rule.type, s, e, 1.0, "rule")

    def _pii_hits(self, idx: int, line: str, anchor_spans: list[tuple[int, int]] | None) -> Iterable[_Hit]:
        rule = self._pii_rules[idx]
        windows = [(0, len(line))] if not anchor_spans else _windows(line, anchor_spans)
        for ws, we in windows:
            # Pattern recognizers take nlp_artifacts=None (no NLP engine: offline, fast).
            for r in rule.recognizer.analyze(line[ws:we], [rule.entity], None):  # type: ignore[arg-type]
                if r.score >= self.config.pii_min_score:
                    yield ("pii", r.entity_type, ws + r.start, ws + r.end, float(r.score), "presidio")

    def _decoded_secret(self, tok: str) -> str | None:
        """Type of a secret hidden in base64 `tok`; _PLAIN_TEXT if it decodes to clean text; else None."""
        if not _B64.match(tok):
            return None
        raw = tok.rstrip("=")
        try:
            data = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_" if ("-" in raw or "_" in raw) else None,
                                    validate=True)
            decoded = data.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not decoded or len(_PRINTABLE.findall(decoded)) < 0.9 * len(decoded):
            return None
        lines = decoded.split("\n")
        multiline: set[str] = set()
        for res in self._scan_lines(lines, depth=1):
            for kind, type_, *_ in res:
                if kind == "secret":
                    return type_
                if kind == _MARKER:
                    multiline.add(type_)
        for m in self._multiline_hits(decoded, multiline):
            return m[1]
        return _PLAIN_TEXT

    def _multiline_hits(self, text: str, anchored: set[str]) -> list[tuple[str, str, int, int, float, str]]:
        """Multi-line shapes in `text`, for the rules whose anchors the line pass saw (`anchored`)."""
        hits: list[_Hit] = []
        if _K8S in anchored:
            hits.extend(("secret", "KUBERNETES_SECRET", s, e, 1.0, "rule") for s, e in kubernetes_secret_values(text))
        for i, rule in enumerate(self._multi_rules):
            if str(i) not in anchored:
                continue
            for m in rule.regex.finditer(text):
                if rule.keyword_group and KEYWORD.search(m.group(rule.keyword_group)) is None:
                    continue
                s, e = m.span("s") if "s" in rule.regex.groupindex else m.span()
                if not plausible_rule_value(rule.type, text[s:e], text[e:e + 1]):
                    continue
                hits.append(("secret", rule.type, s, e, 1.0, "rule"))
        return hits


def _line_starts(lines: list[str] | list[bytes]) -> list[int]:
    """Where each line starts in its "\n"-join, plus one sentinel past the end (computed in C)."""
    return list(accumulate(map(add, map(len, lines), repeat(1)), initial=0))


def _windows(line: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merged windows of +-_WINDOW_PAD characters around anchor spans, widened to whitespace."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        s, e = max(0, s - _WINDOW_PAD), min(len(line), e + _WINDOW_PAD)
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    widened: list[tuple[int, int]] = []
    for s, e in out:
        # Do not cut a value in half: move each edge out to whitespace (bounded).
        lo = max(0, s - _WINDOW_PAD)
        while s > lo and not line[s - 1].isspace():
            s -= 1
        hi = min(len(line), e + _WINDOW_PAD)
        while e < hi and not line[e].isspace():
            e += 1
        if widened and s <= widened[-1][1]:
            widened[-1] = (widened[-1][0], max(widened[-1][1], e))
        else:
            widened.append((s, e))
    # Dense anchors merge into one huge window; cut it at whitespace into bounded pieces
    # (recognizers and presidio's duplicate removal are super-linear in window size).
    pieces = []
    for s, e in widened:
        while e - s > _WINDOW_MAX:
            cut = line.rfind(" ", s + _WINDOW_MAX // 2, s + _WINDOW_MAX)
            cut = cut if cut > s else s + _WINDOW_MAX
            pieces.append((s, cut))
            s = cut
        pieces.append((s, e))
    return pieces


def _license_hits(line: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for m in SPDX.finditer(line):
        hits.append(("license", "SPDX:" + m.group("id"), m.start(), m.end(), 1.0, "license"))
    for m in GPL_TEXT.finditer(line):
        hits.append(("license", gpl_type(m.group()), m.start(), m.end(), 0.9, "license"))
    for m in PROPRIETARY.finditer(line):
        hits.append(("license", "PROPRIETARY_NOTICE", m.start(), m.end(), 0.9, "license"))
    return hits


def _rank(h: tuple[str, str, int, int, float, str]) -> int:
    """Shaped secrets, then validated PII (Luhn, checksums), then entropy guesses, then the rest."""
    kind, det, score = h[0], h[5], h[4]
    if kind == "secret":
        return 2 if det == "entropy" else 0
    if kind == "pii":
        # Phone matching is the loosest (any digit run phonenumbers accepts somewhere): on
        # overlap, a more specific PII shape (SSN, card, IP) wins.
        return 1 if score >= 0.9 else (4 if h[1] == "PHONE_NUMBER" else 3)
    return 5


def _resolve(hits: list[tuple[str, str, int, int, float, str]]) -> list[tuple[str, str, int, int, float, str]]:
    """Keep a non-overlapping subset: secrets first, then PII, then license; longer spans first."""
    if len(hits) <= 1:
        return hits
    ranked = sorted(hits, key=lambda h: (_rank(h), -h[4], -(h[3] - h[2]), h[2]))
    starts: list[int] = []
    ends: list[int] = []
    kept: list[tuple[str, str, int, int, float, str]] = []
    for h in ranked:
        s, e = h[2], h[3]
        i = bisect.bisect_right(starts, s)
        if i > 0 and ends[i - 1] > s:
            continue
        if i < len(starts) and starts[i] < e:
            continue
        starts.insert(i, s)
        ends.insert(i, e)
        kept.insert(i, h)
    return kept
