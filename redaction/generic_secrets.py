"""Generic secrets: a random-looking token, judged with detect-secrets' false-positive filters.

Two strengths:
- with a secret keyword on the line (password, token, api_key, ...) a shorter, lower-entropy
  value counts (detect-secrets' keyword plugin, with its filters);
- without one, only long tokens that look like key material (mixed classes, high entropy)
  count, and hash/lock-file/URL/path/identifier contexts are rejected: stock detect-secrets'
  high-entropy plugins flag about half of all lock-file lines, which a proxy cannot afford.
"""
from __future__ import annotations

import re

from detect_secrets.filters.heuristic import (
    is_potential_uuid,
    is_sequential_string,
    is_templated_secret,
)

from .entropy import char_classes, shannon_entropy

# Words that make a nearby value a credential. Matched inside identifiers too (DB_PASSWORD,
# sentryToken, x-api-key), like detect-secrets' keyword denylist.
KEYWORD = re.compile(
    r"(?i)(?:api[_\-.]?key|apikey|secret|passw(?:or)?d|passwd|\bpwd|\bpass\b|_pass\b|token|auth|"
    r"credential|\bcreds?\b|private[_\-.]?key|access[_\-.]?key|client[_\-.]?(?:id|secret)|"
    r"\bkey\b|_key\b|key_|Key\b|\bsig(?:nature)?\b|bearer|session|cookie|salt|license[_\-.]?key|"
    r"webhook|dsn|conn(?:ection)?[_\-.]?str)"
)
# The same keywords for the Hyperscan pass, which reports where each ends (the assignment
# tail is matched from there): (pattern, caseless).
KEYWORD_PATTERNS: tuple[tuple[str, bool], ...] = (
    (r"api[_\-.]?key", True), (r"apikey", True), (r"secret", True), (r"passw(?:or)?d", True),
    (r"passwd", True), (r"\bpwd", True), (r"\bpass\b", True), (r"_pass\b", True), (r"token", True),
    (r"auth", True), (r"credential", True), (r"\bcreds?\b", True), (r"private[_\-.]?key", True),
    (r"access[_\-.]?key", True), (r"client[_\-.]?(?:id|secret)", True), (r"\bkey\b", True),
    (r"_key\b", True), (r"key_", True), (r"Key\b", False), (r"\bsig(?:nature)?\b", True),
    (r"bearer", True), (r"session", True), (r"cookie", True), (r"salt", True),
    (r"license[_\-.]?key", True), (r"webhook", True), (r"dsn", True), (r"conn(?:ection)?[_\-.]?str", True),
)
# Candidate token: the characters keys are made of. '/' and '+' and '=' for base64.
# '=' only as trailing base64 padding, so `key=value` yields the value as its own token.
TOKEN = re.compile(r"(?<![A-Za-z0-9_\-+/.~])[A-Za-z0-9_\-+/.~]{8,}={0,3}")
LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-+/.~])[A-Za-z0-9_\-+/.~]{20,}={0,3}")
# Hyperscan: the end of every run of >= 20 token characters, once per run (the 20 characters
# before a non-token character or the end): the lines where LONG_TOKEN can match. (An exact
# "20 in a row around a digit" pattern would also spare digit-free dotted names, but takes
# Hyperscan ~0.1 s to compile; looser digit conditions flag numeric code wholesale.)
LONG_RUN_END = r"[A-Za-z0-9_\-+/.~]{20}(?:[^A-Za-z0-9_\-+/.~]|$)"
# A quoted value assigned to a keyword-named thing; may contain punctuation (passwords do).
# Matched from where a keyword ends (reported by the Hyperscan pass), so that a long run of
# word characters cannot make the regex engine try every split of it.
_ASSIGN_TAIL = re.compile(
    r"[\w.\-]{0,40}?['\"\]>]{0,2}\s{0,8}(?::=|=>|==|=|:|,|\s)\s{0,8}"
    r"(?:[@(]|new\s+\w{1,40}\()?\s{0,4}(?P<q>['\"`])(?P<s>[^'\"`\s]{6,200})(?P=q)"
)


def assigned_values(line: str, keyword_ends: list[int]) -> list[tuple[int, int, str]]:
    """(start, end, value) of quoted values assigned to keyword-named things in `line`."""
    out: dict[int, tuple[int, int, str]] = {}
    for end in keyword_ends:
        m = _ASSIGN_TAIL.match(line, end)
        if m is not None and m.start("s") not in out:
            out[m.start("s")] = (m.start("s"), m.end("s"), m.group("s"))
    return list(out.values())


# Text right before a token that says "this is a digest, not a credential".
_HASH_CONTEXT = re.compile(
    r"(?i)(?:sha(?:1|224|256|384|512)[-:=~]|md5[-:]|h1:|integrity|checksum|digest|\bhash\b|"
    r"\bsum\b|\bsha\b|etag|commit|revision|\brev\b|nonce|fingerprint)[\"'\s:=]{0,4}$"
)
# Lines of package-lock/poetry/uv/go.sum files: public hashes, never credentials (Hyperscan).
LOCKFILE_PATTERNS: tuple[str, ...] = (
    r"\"integrity\"\s*:", r"\bh1:", r"sha512-", r"sha384-", r"sha256-", r"hash\s*=\s*\"sha",
    r"\"resolved\"\s*:", r"\.whl", r"\.tar\.gz", r"\.tgz",
)
_FILE_EXT = re.compile(
    r"(?i)\.(?:py|js|ts|tsx|jsx|go|rs|java|rb|php|c|h|cpp|hpp|cs|md|txt|json|ya?ml|toml|lock|"
    r"whl|tgz|gz|zip|jar|png|jpe?g|gif|svg|html?|css|scss|xml|sh|so|dll|exe|pdf|csv|ini|cfg|conf|"
    r"log|sql|proto|mod|sum|kt|swift|vue|map|woff2?|ttf|ico|lock)$"
)
_PLACEHOLDER = re.compile(r"^(?:SECRET|PII|LICENSE)_[A-Z0-9_]+_\d+$")
_REPEATS = re.compile(r"(.)\1{5,}|(?i:x{4,}|\*{3,}|\.{3,}|example|sample|placeholder|changeme|your)")
# Keyboard/alphabet runs: a short value made of them is a dummy; a long one merely contains one.
_RUNS = re.compile(r"(?i:abcdef|123456|qwerty)")
_REPEAT_RUN = re.compile(r"(.)\1{5,}")


def _repeats(core: str) -> bool:
    """_REPEATS.search(core), with the caseless words checked as substrings of core.lower()."""
    if not core.isascii():  # Unicode case folding (e.g. long s) is the regex engine's business
        return _REPEATS.search(core) is not None
    if _REPEAT_RUN.search(core) is not None:
        return True
    low = core.lower()
    return ("xxxx" in low or "***" in low or "..." in low or "example" in low or "sample" in low
            or "placeholder" in low or "changeme" in low or "your" in low)


def _runs(core: str) -> bool:
    """_RUNS.search(core), as substrings of core.lower() for ASCII text."""
    if not core.isascii():
        return _RUNS.search(core) is not None
    low = core.lower()
    return "abcdef" in low or "123456" in low or "qwerty" in low
_WORDY = re.compile(r"[A-Za-z][a-z]{2,}|[A-Z]{2,}(?![a-z])")


_HAS_DIGIT = re.compile(r"\d")
_SEPARATORS = re.compile(r"[_\-.:/]+")


def _identifier_like(tok: str) -> bool:
    """camelCase / snake_case / dotted / dashed names made of words, not key material."""
    # Every non-empty part must be made of words; a short number between words is a name's too
    # (HTTP_401_UNAUTHORIZED, WS_1000_NORMAL_CLOSURE). Key material usually fails the cheap
    # digit test on some part, so that test runs on all parts before any word matching.
    parts = [part for part in _SEPARATORS.split(tok) if part and not (len(part) <= 4 and part.isdigit())]
    if not parts or any(any(map(str.isdigit, part[:-2])) for part in parts):
        return False
    return all(sum(map(len, _WORDY.findall(part))) >= len(part) - 2 for part in parts)


def _wordish(tok: str) -> bool:
    """Mostly dictionary-like letter runs (b64encode, utf8_decode, sha256sum): a name, not a key."""
    covered = sum(map(len, _WORDY.findall(tok)))
    return covered >= 0.6 * len(tok)


def _digit_runs_only(tok: str) -> bool:
    return tok.replace("-", "").replace(".", "").replace("_", "").replace(":", "").isdigit()


def is_random_token(tok: str, keyword: bool) -> tuple[bool, float]:
    """Whether `tok` looks like key material; returns (verdict, score).

    The keyword flag relaxes length/entropy floors, as detect-secrets' keyword plugin does.
    """
    core = tok.strip("=.'\"-_")
    n = len(core)
    if n < (8 if keyword else 20) or n > 1024:
        return False, 0.0
    if not keyword and not _HAS_DIGIT.search(core):
        return False, 0.0  # without a keyword, only digit-bearing key material counts
    ent = -1.0  # not computed yet
    if not keyword:
        # Without a keyword only the last step below accepts, so its rejections may run first
        # (same verdict): character classes, entropy <= log2(distinct) < 3.6, then entropy.
        lower, upper, digit, other = char_classes(core)
        if not digit or not (lower or upper) or (n < 28 and not (lower and upper)) or len(set(core)) <= 12:
            return False, 0.0
        ent = shannon_entropy(core)
        if ent < 3.6:
            return False, 0.0
    if _PLACEHOLDER.match(core):
        return False, 0.0
    if _digit_runs_only(core):
        # Numeric client secrets/ids exist (Discord, Asana), but only next to a keyword and long.
        if not (keyword and n >= 16 and core.isdigit() and shannon_entropy(core) >= 2.5
                and not is_sequential_string(core)):
            return False, 0.0
        return True, 0.6
    # From here every step but the last only rejects, so their order does not change the
    # verdict: names (the usual rejection on keyword lines, and cheap on key material) first.
    if _identifier_like(core) or (n < 16 and _wordish(core)):
        return False, 0.0
    if is_templated_secret(core) or core[0] == "$" or is_sequential_string(core):
        return False, 0.0
    if _repeats(core) or (n < 32 and _runs(core)):
        return False, 0.0
    lower, upper, digit, other = char_classes(core)
    classes = lower + upper + digit
    if classes < 2 and not (keyword and n >= 16 and digit is False and (lower or upper)
                            and shannon_entropy(core) >= 3.8):
        return False, 0.0
    if _FILE_EXT.search(core):
        return False, 0.0
    if ent < 0:
        ent = shannon_entropy(core)
    uniq = len(set(core))
    if uniq < min(10, n // 2):
        return False, 0.0
    if keyword:
        # Hex keys have a 16-letter alphabet: their entropy tops out lower than base62's.
        hexish = not core.strip("0123456789abcdefABCDEF-")  # every character is one of these
        floor = 2.7 if hexish else (2.8 if n < 16 else 3.0)
        if ent < floor:
            return False, 0.0
        return True, min(1.0, 0.5 + ent / 10)
    # No keyword: only material that looks like a key. A bare 32/40/64-hex string is
    # a digest or commit id far more often than a credential in source.
    if not digit or not (lower or upper):
        return False, 0.0
    hexish = not core.strip("0123456789abcdefABCDEF")
    if hexish or is_potential_uuid(core):
        return False, 0.0
    if ent < 3.6 or (n < 28 and not (lower and upper and digit)):
        return False, 0.0
    return True, min(0.9, ent / 6)


def in_url_path(line: str, start: int) -> bool:
    """True when the token at `start` sits in a URL's host/path (not its query values)."""
    i = start - 1
    while i >= 0 and line[i] not in " \t\"'`<>(),;=?&@[]{}":
        i -= 1
    run = line[i + 1:start + 2]
    return "://" in run or run.startswith("//") or (run.count("/") >= 2 and "." in run)


_FILLER = re.compile(r"(?i)x{4,}|(.)\1{7,}|(.{2,3}?)\2{3,}|#{3,}|\*{3,}|your|put_|_here|<[a-z_]+>|\.\.\.")
_BODY_SPLIT = re.compile(r"[_\-.]")
_B64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}")


def plausible_rule_value(type_: str, value: str, after: str) -> bool:
    """False for documentation fillers that have a vendor prefix: ghp_xxxx, sk_live_****, ...

    `after` is the character following the match: a '#'/'*'/'<' there means the match was
    cut short by a filler.
    """
    if after and after in "#*<{$%":
        return False
    if type_ in ("PRIVATE_KEY", "PGP_PRIVATE_KEY"):
        return _B64_RUN.search(value.replace("\\n", "\n")) is not None
    if _FILLER.search(value):
        return False
    if type_ == "CURL_USER_PASSWORD":
        user, _, password = value.strip("'\"").partition(":")
        password = password or user  # curl -u ":secret" / "secret:"
        if len(password) < 6 or password[0] == "$" or any(c in password for c in "[]{}<>"):
            return False
        lower, upper, digit, other = char_classes(password)
        return (lower + upper + digit + other) >= 2 and not _FILLER.search(password)
    if type_ == "GENERIC_SECRET":  # keyword on another line (XML element): judge like a keyword value
        return is_random_token(value, keyword=True)[0]
    if type_ == "CONNECTION_STRING" and (is_templated_secret(value) or any(c in value for c in "{}[]()<>")):
        return False
    if value.endswith("-"):
        return False
    body = _BODY_SPLIT.split(value, maxsplit=1)[-1]
    return not (len(body) >= 8 and _identifier_like(body))


def hash_context(line: str, start: int) -> bool:
    """True when the text just before the token names it as a digest or lock-file hash."""
    return _HASH_CONTEXT.search(line, max(0, start - 24), start) is not None
