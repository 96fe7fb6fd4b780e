"""Who is calling: virtual keys and proxy credentials mapped to Principals (policy data)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from proxy.exchange import Principal


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) from a `Basic ...` (Proxy-)Authorization header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


@dataclass(slots=True)
class _Snapshot:
    by_digest: dict[str, Principal]
    mtime_ns: int


class Directory:
    """The users file, indexed by key digest; re-read when the file changes (checked at most every `recheck_s`)."""

    def __init__(self, users_file: Path, recheck_s: float = 2.0) -> None:
        self.users_file = users_file
        self.recheck_s = recheck_s
        self._checked_at = 0.0
        self._snap = self._load()

    def _load(self) -> _Snapshot:
        mtime = self.users_file.stat().st_mtime_ns
        doc = yaml.safe_load(self.users_file.read_text(encoding="utf-8")) or {}
        by_digest: dict[str, Principal] = {}
        for entry in doc.get("users") or []:
            digests = [key_digest(k) for k in entry.get("keys") or []]
            digests += [d.lower() for d in entry.get("key_sha256") or []]
            for digest in digests:
                by_digest[digest] = Principal(
                    id=str(entry["id"]),
                    team=str(entry.get("team", "")),
                    roles=tuple(entry.get("roles") or ()),
                    regions=tuple(entry.get("regions") or ()),
                    attributes=tuple(sorted((str(k), str(v)) for k, v in (entry.get("attributes") or {}).items())),
                    key_id=digest[:12],
                )
        return _Snapshot(by_digest, mtime)

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < self.recheck_s:
            return
        self._checked_at = now
        try:
            if self.users_file.stat().st_mtime_ns != self._snap.mtime_ns:
                self._snap = self._load()
        except (OSError, yaml.YAMLError, KeyError):
            # Keep serving the last good snapshot; a broken edit must not lock everyone out.
            pass

    def principal_for_key(self, key: str | None) -> Principal | None:
        if not key:
            return None
        self._maybe_reload()
        # Keys are looked up by their SHA-256, never compared as plaintext.
        return self._snap.by_digest.get(key_digest(key))

    def principal_for_basic(self, header: str | None) -> Principal | None:
        """Explicit-proxy login: the password is the virtual key (the user name is informative)."""
        creds = basic_credentials(header)
        return self.principal_for_key(creds[1]) if creds else None
