"""The named compliance and ROI queries (audit/queries/*.sql) and how their parameters are bound."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

QUERIES_DIR = Path(__file__).parent / "queries"
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*):([^{}]+)\}")
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DEFAULT_SINCE = "7d"


class QueryError(ValueError):
    """Unknown query name or a parameter that does not fit."""


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    sql: str
    description: str
    params: dict[str, str]  # placeholder name -> ClickHouse type

    def bind(self, given: dict[str, str | None], now: datetime | None = None) -> dict[str, str]:
        """Parameters for this query: since/until parsed (7d, 24h, ISO dates), the rest ''."""
        now = now or datetime.now(UTC)
        unknown = {k for k, v in given.items() if v not in (None, "")} - set(self.params) - {"since", "until"}
        if unknown:
            raise QueryError(f"{self.name} takes no parameter {', '.join(sorted(unknown))}")
        out: dict[str, str] = {}
        for p in self.params:
            v = given.get(p)
            if p == "since":
                out[p] = format_param_time(parse_time(v or DEFAULT_SINCE, now))
            elif p == "until":
                out[p] = format_param_time(parse_time(v, now) if v else now + timedelta(seconds=1))
            else:
                out[p] = str(v or "")
        if "user" in self.params and self.name == "user_activity" and not out["user"]:
            raise QueryError("user_activity needs a user")
        return out


def parse_time(v: str, now: datetime) -> datetime:
    """'7d' / '24h' / '30m' before now, or an ISO date/datetime (UTC unless it says otherwise)."""
    v = v.strip()
    m = _RELATIVE.match(v)
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    if v == "now":
        return now
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"not a time: {v!r} (use 7d, 24h, 2026-01-31 or an ISO datetime)") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def format_param_time(t: datetime) -> str:
    t = t.astimezone(UTC)
    return f"{t.strftime('%Y-%m-%d %H:%M:%S')}.{t.microsecond // 1000:03d}"


def load_queries(directory: Path = QUERIES_DIR) -> dict[str, NamedQuery]:
    """Every *.sql file in the directory, by file stem; the first comment line describes it."""
    out: dict[str, NamedQuery] = {}
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text().strip().rstrip(";")
        first = text.splitlines()[0] if text else ""
        description = first[2:].strip() if first.startswith("--") else ""
        params = {m.group(1): m.group(2) for m in _PLACEHOLDER.finditer(text)}
        out[path.stem] = NamedQuery(path.stem, text, description, params)
    return out
