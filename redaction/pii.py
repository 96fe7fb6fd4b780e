"""PII through presidio-analyzer's own pattern recognizers, run offline on candidate lines.

No NLP engine is needed: pattern recognizers accept `nlp_artifacts=None`, and their
validation (Luhn, IBAN checksum, SSN invalidation, phonenumbers parsing, ...) runs as shipped.
The fast pass only decides WHICH lines a recognizer sees. tldextract (email validation) is
given the bundled public-suffix snapshot, no URLs and no cache directory, so it never fetches
and never writes.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import phonenumbers
import tldextract
from phonenumbers import phonenumbermatcher as _pn_matcher
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import (
    AbaRoutingRecognizer,
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    MacAddressRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsItinRecognizer,
    UsSsnRecognizer,
)


class OfflineIbanRecognizer(IbanRecognizer):
    """presidio's IbanRecognizer with the case-insensitive flags its registry config uses."""

    def __init__(self) -> None:
        super().__init__()
        self.global_regex_flags = re.DOTALL | re.MULTILINE | re.IGNORECASE


class CodeAwareIpRecognizer(IpRecognizer):
    """presidio's IpRecognizer minus C++/Rust paths: `std::vector`, `Foo::new` are not IPv6."""

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):  # type: ignore[no-untyped-def]
        """Drop IPv6 candidates glued to identifiers, and bare '::'/'::1' without an IP context word."""
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        kept = []
        for r in results:
            value = text[r.start:r.end]
            if ":" in value and "." not in value:
                before = text[r.start - 1:r.start]
                after = text[r.end:r.end + 1]
                # presidio's IPv6 regex may stop short of a final digit, so only letters count here.
                if (before and (before.isalpha() or before == "_")) or (after and (after.isalpha() or after == "_")):
                    continue
                if not _plausible_ipv6(text, r.start, r.end):
                    continue
            kept.append(r)
        return kept


def _plausible_ipv6(text: str, start: int, end: int) -> bool:
    """The whole token around an IPv6 match parses as an address/network (Python's a[::2] does not);
    a bare '::' or '::1' also needs an IP context word on the line."""
    s, e = start, end
    while s > 0 and text[s - 1] in _V6_CHARS:
        s -= 1
    while e < len(text) and text[e] in _V6_CHARS:
        e += 1
    token = text[s:e].rstrip(".").split("%")[0]
    try:
        addr = ipaddress.ip_address(token.split("/")[0])
    except ValueError:
        return False
    if addr.version != 6:
        return False
    digits = sum(c not in ":/" for c in token.split("/")[0])
    return digits >= 4 or "/" in token or _IP_CONTEXT.search(text) is not None


_V6_CHARS = frozenset("0123456789abcdefABCDEF:./")
_IP_CONTEXT = re.compile(r"(?i)\b(?:ip|ipv[46]|addr(?:ess)?|src|dst|from|host|bind|listen|loopback|unspecified)\b")
_V6_RUN = re.compile(r"[0-9a-fA-F:./]*:[0-9a-fA-F:./]*")  # a maximal run of _V6_CHARS holding a ':'


def ipv6_possible(text: str) -> bool:
    """Whether CodeAwareIpRecognizer can keep any IPv6 result without a dot in `text`.

    Such a result survives only if the maximal run of address characters around it passes
    _plausible_ipv6, so when no run does (`.. versionadded::`, `a ::= b`, `std::vector`), presidio
    need not be asked. Results with a dot need a dotted quad, which the IPv4 anchor covers.
    """
    return any(_plausible_ipv6(text, m.start(), m.end()) for m in _V6_RUN.finditer(text))


class _SharedParseMatcher(phonenumbers.PhoneNumberMatcher):
    """phonenumbers' matcher that shares internationally written numbers' verdicts across regions.

    A matcher's region enters only through `parse(candidate, region)`. When a candidate starts
    with '+' and a valid country code follows, parse takes the country (and its metadata) from
    the number and never reads the region, so the candidate's verdict is the same for every
    region: it is worked out by the first matcher over this text and reused by the others
    (`shared`, one per text). `parse(candidate, None)` proves that case: with no region it can
    only succeed that way, and it says so in country_code_source. Any other candidate (national
    formats, '+' with an unknown country code, which parse retries with the region's
    international prefix) is judged by each matcher itself, as before.
    """

    def __init__(self, text: str, region: str, leniency: int,
                 shared: dict[tuple[str, int], phonenumbers.PhoneNumberMatch | None],
                 rejected: dict[tuple[str, int, str, str, str], bool]) -> None:
        super().__init__(text, region, leniency=leniency)
        self._shared = shared
        self._rejected = rejected
        # Whether every verdict so far was the same for any region (see region_free).
        self.region_free = True

    def _parse_and_verify(self, candidate, offset):  # type: ignore[no-untyped-def]
        key = (candidate, offset)
        if key in self._shared:
            return self._shared[key]
        # The verdict reads the candidate, the characters just before and after it (Latin
        # letters or stray punctuation there reject it) and the region and leniency: nothing
        # else of the text. Rejections are remembered by exactly that (code repeats digit
        # strings such as '0123456789', each costing a parse per region).
        end = offset + len(candidate)
        seen = (candidate, self.leniency, self.preferred_region, self.text[offset - 1] if offset > 0 else "",
                self.text[end] if end < len(self.text) else "")
        unread = self._rejected.get(seen)
        if unread is not None:
            self.region_free &= unread
            return None
        match = super()._parse_and_verify(candidate, offset)
        if ("+" in candidate or "\uff0b" in candidate) and _from_plus_sign(candidate):
            self._shared[key] = match
        elif match is None:
            unread = _rejected_before_parse(self, candidate, offset)
            self.region_free &= unread
            if len(self._rejected) >= _REJECTED_MAX:
                self._rejected.clear()
            self._rejected[seen] = unread
        else:
            self.region_free = False  # accepted in this region's national format
        return match


_REJECTED_MAX = 8192  # candidates remembered as rejected, per recognizer (a few hundred KB at most)


# What phonenumbers' pre-parse checks use (see _rejected_before_parse); all module-level names.
_PRE_PARSE_OK = all(hasattr(_pn_matcher, name) for name in ("_LEAD_PATTERN", "_MATCHING_BRACKETS", "_PUB_PAGES", "fullmatch"))


def _rejected_before_parse(matcher: phonenumbers.PhoneNumberMatcher, candidate: str, offset: int) -> bool:
    """Whether phonenumbers' _parse_and_verify rejects `candidate` before it parses it.

    Those first checks (brackets, "pages" references, a Latin letter or stray punctuation right
    before or after) never read the region, so such a rejection holds for every region. This
    mirrors phonenumbers 9's code; test_cold_path compares the whole recognizer with stock
    presidio, so a change there shows. False (no claim) if its names are not there.
    """
    if not _PRE_PARSE_OK:  # pragma: no cover - another phonenumbers layout: make no claim
        return False
    m = _pn_matcher
    if not m.fullmatch(m._MATCHING_BRACKETS, candidate) or m._PUB_PAGES.search(candidate):
        return True
    if matcher.leniency < phonenumbers.Leniency.VALID:
        return False
    text = matcher.text
    if offset > 0 and not m._LEAD_PATTERN.match(candidate):
        before = text[offset - 1]
        if matcher._is_invalid_punctuation_symbol(before) or matcher._is_latin_letter(before):
            return True
    end = offset + len(candidate)
    if end < len(text):
        after = text[end]
        if matcher._is_invalid_punctuation_symbol(after) or matcher._is_latin_letter(after):
            return True
    return False


_REJECTED_MAX = 8192  # candidates remembered as rejected, per recognizer (a few hundred KB at most)


def _from_plus_sign(candidate: str) -> bool:
    """Whether phonenumbers reads the country of `candidate` from its leading '+' (region-free)."""
    try:
        number = phonenumbers.parse(candidate, None, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        return False
    return number.country_code_source == phonenumbers.CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN


class MatcherOnlyPhoneRecognizer(PhoneRecognizer):
    """presidio's PhoneRecognizer without its second parse of every match.

    presidio runs phonenumbers' matcher once per supported region and then parses each match
    again, only to name the number's region in the explanation text (~40% of its time). The
    spans, type and score come from the matchers alone, so they are the same here; a span
    found by several regions is turned into a result once (presidio's duplicate removal
    would drop the copies anyway), explained by the first region that found it. The matchers
    share their verdicts on internationally written numbers (see _SharedParseMatcher), and
    candidates once rejected are not parsed again in the same context.
    """

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        # Rejected candidates by what their verdict reads -> whether the region was never read.
        self._rejected: dict[tuple[str, int, str, str, str], bool] = {}

    def analyze(self, text, entities, nlp_artifacts=None):  # type: ignore[no-untyped-def]
        """Phone numbers in `text`: the union of every region's matches, contained ones dropped.

        A matcher is a fixed walk over the text whose only region-dependent step is the verdict
        on each candidate. When every verdict of the first region's walk was region-free ('+'
        numbers with a country code, rejections before parsing), every other region walks the
        same way to the same matches, so they are not run (a contact line with a '+1 ...' number
        and an address costs one walk instead of eight).
        """
        found: dict[tuple[int, int], RecognizerResult] = {}
        shared: dict[tuple[str, int], phonenumbers.PhoneNumberMatch | None] = {}
        for region in self.supported_regions:
            matcher = _SharedParseMatcher(text, region, self.leniency, shared, self._rejected)
            for match in matcher:
                span = (match.start, match.end)
                if span not in found:
                    found[span] = self._get_recognizer_result(match, text, region, nlp_artifacts)
            if matcher.region_free:
                break
        return EntityRecognizer.remove_duplicates(list(found.values()))


def _non_ascii(text: str) -> bool:
    return not text.isascii()


class OfflineEmailRecognizer(EmailRecognizer):
    """presidio's EmailRecognizer with a tldextract that cannot touch the network or disk."""

    def __init__(self) -> None:
        super().__init__()
        self._tld = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    def validate_result(self, pattern_text: str) -> bool:  # noqa: D102 - presidio hook
        return self._tld(pattern_text).fqdn != ""


@dataclass(frozen=True, slots=True)
class PiiRule:
    """A presidio recognizer plus the anchors that make a line worth showing it."""

    entity: str
    recognizer: EntityRecognizer
    anchors: tuple[str, ...]  # Hyperscan regexes (single line)
    # Tighter necessary conditions, for lines short enough to be analysed whole: such a line
    # with an anchor goes to the recognizer only if a `strict` regex matched in it too, or
    # `gate(line)` is true. Both are implied by any result the recognizer can return there.
    strict: tuple[str, ...] = ()
    gate: Callable[[str], bool] | None = None


# Anchors are deliberately looser than the recognizers: they only choose lines.
_ANCHORS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "EMAIL_ADDRESS": (r"[A-Za-z0-9._%+\-]@[A-Za-z0-9\-]+\.[A-Za-z0-9\-]",),
    # Groups of 2+ digits (or one long run): "1 2 3 4 5 6" or "10.0.0.1" is not worth
    # phonenumbers' time, which is large per candidate.
    "PHONE_NUMBER": (r"\d{2,}(?:[\s().\-/]{1,3}\d{2,}){2}", r"\d{7,}"),
    "CREDIT_CARD": (r"\d(?:[\s\-]?\d){11}",),
    "IBAN_CODE": (r"[A-Za-z]{2}\d{2}[ \-]?[A-Za-z0-9]{4}",),
    "US_SSN": (r"\d{3}[\s.\-]?\d{2}[\s.\-]?\d{4}",),
    "US_ITIN": (r"9\d{2}[\s.\-]?[5-9]\d[\s.\-]?\d{4}",),
    "IP_ADDRESS": (r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{1,4}",
                   r"::"),
    "MAC_ADDRESS": (r"[0-9A-Fa-f]{2}[:\-][0-9A-Fa-f]{2}[:\-][0-9A-Fa-f]{2}", r"[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\."),
    "CRYPTO": (r"[13][a-km-zA-HJ-NP-Z1-9]{25}", r"bc1[a-z0-9]{20}"),
    "UK_NHS": (r"\d{3}[\s\-]?\d{3}[\s\-]?\d{4}",),
    "ABA_ROUTING_NUMBER": (r"[0123678]\d{3}-?\d{4}-?\d",),
    "URL": (r"https?://", r"www\.", r"[a-z0-9\-]\.(?:com|org|net|io|gov|edu)\b"),
})

_FACTORIES: Mapping[str, Callable[[], EntityRecognizer]] = MappingProxyType({
    "EMAIL_ADDRESS": OfflineEmailRecognizer,
    "PHONE_NUMBER": MatcherOnlyPhoneRecognizer,
    "CREDIT_CARD": CreditCardRecognizer,
    "IBAN_CODE": OfflineIbanRecognizer,
    "US_SSN": UsSsnRecognizer,
    "US_ITIN": UsItinRecognizer,
    "IP_ADDRESS": CodeAwareIpRecognizer,
    "MAC_ADDRESS": MacAddressRecognizer,
    "CRYPTO": CryptoRecognizer,
    "UK_NHS": NhsRecognizer,
    "ABA_ROUTING_NUMBER": AbaRoutingRecognizer,
    "URL": UrlRecognizer,
})

# IBAN: presidio's pattern, caseless, is `(?<![A-Z0-9])[A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2,6}...`;
# on ASCII text that needs a non-alphanumeric (or nothing) before the country code and two
# groups after the check digits (random tokens hold LLDD shapes everywhere, never after a
# boundary). Non-ASCII lines keep the loose anchor: caseless [A-Z] also matches e.g. U+212A.
# IP: a dotted quad (IPv4, and IPv6 with an embedded IPv4), else a run that could be an IPv6
# address CodeAwareIpRecognizer keeps.
_STRICT: Mapping[str, tuple[tuple[str, ...], Callable[[str], bool]]] = MappingProxyType({
    "IBAN_CODE": ((r"(?:^|[^A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]{4}){2}",), _non_ascii),
    "IP_ADDRESS": ((r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",), ipv6_possible),
})

SUPPORTED_PII = tuple(_FACTORIES)


def build_pii_rules(entities: tuple[str, ...]) -> list[PiiRule]:
    """One rule per requested presidio entity; unknown names raise (a typo must not go quiet)."""
    rules = []
    for entity in entities:
        if entity not in _FACTORIES:
            raise ValueError(f"unsupported PII entity {entity!r}; supported: {', '.join(SUPPORTED_PII)}")
        strict, gate = _STRICT.get(entity, ((), None))
        rules.append(PiiRule(entity, _FACTORIES[entity](), _ANCHORS[entity], strict, gate))
    return rules
