"""What the Auditor needs from ClickHouse, whichever way it is reached (chDB or a server)."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Protocol

# Rows come back as JSON for both backends, so both give identical Python values.
SELECT_SETTINGS = {"output_format_json_quote_64bit_integers": "0", "output_format_json_quote_denormals": "1"}


# ClickHouse error codes meaning "this data cannot be inserted" (retrying will not help).
DATA_ERROR_CODES = frozenset({6, 25, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 321})


class StoreError(RuntimeError):
    """The backend refused or could not be reached. The message never includes row data."""

    @property
    def code(self) -> int | None:
        m = _CODE_IN_MESSAGE.search(str(self))
        return int(m.group(1)) if m else None

    @property
    def data_error(self) -> bool:
        """The rows themselves were refused (a parse error), as opposed to the backend being down."""
        return self.code in DATA_ERROR_CODES


class Store(Protocol):
    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL, small INSERT ... VALUES)."""

    def insert_jsonl(self, table: str, data: bytes, token: str) -> None:
        """Insert JSONEachRow data; a repeat with the same token inserts nothing."""

    def select(self, sql: str, params: dict[str, str] | None = None) -> list[dict]:
        """Run a query with `{name:Type}` parameters; rows as dicts."""

    def stream(self, sql: str, params: dict[str, str] | None = None) -> Iterator[dict]:
        """Like select, but rows arrive as the server produces them (for whole-table walks)."""

    def close(self) -> None: ...


def iter_jsonl(chunks: Iterable[bytes]) -> Iterator[dict]:
    """Rows from JSONEachRow bytes that arrive in arbitrary chunks."""
    tail = b""
    for chunk in chunks:
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if tail.strip():
        yield json.loads(tail)


def parse_jsonl(data: bytes | str) -> list[dict]:
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def check_identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not an identifier: {name!r}")
    return name


def check_token(token: str) -> str:
    # Tokens are built from segment names and offsets; refuse anything that would need quoting.
    if not all(c.isalnum() or c in ":_-." for c in token):
        raise ValueError("bad insert token")
    return token


_CODE = re.compile(r"Code:\s*(\d+)")
_CODE_IN_MESSAGE = re.compile(r"Code (\d+) \(")
_NAME = re.compile(r"\(([A-Z_]{3,})\)")


def safe_error(e: BaseException) -> str:
    """A backend error reduced to its code and name: ClickHouse messages may quote input rows."""
    text = str(e)
    code, name = _CODE.search(text), _NAME.search(text)
    if code or name:
        return f"Code {code.group(1) if code else '?'} ({name.group(1) if name else 'error'})"
    return type(e).__name__
