"""The server backend: a ClickHouse server or cluster through clickhouse-connect (HTTP)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from audit.store import SELECT_SETTINGS, StoreError, check_identifier, check_token, iter_jsonl, parse_jsonl, safe_error


class ClickHouseStore:
    """clickhouse-connect client for http://user:pw@host:8123/db; the database is created if missing."""

    def __init__(self, url: str, connect_timeout: float = 3, timeout: float = 30) -> None:
        import clickhouse_connect

        parts = urlsplit(url)
        database = check_identifier(parts.path.strip("/") or "customs")
        self.database = database
        common: dict[str, Any] = dict(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8443 if parts.scheme == "https" else 8123),
            username=parts.username or "default",
            password=parts.password or "",
            secure=parts.scheme == "https",
            connect_timeout=connect_timeout,
            send_receive_timeout=timeout,
            # one request at a time per client; no server session to lock
            autogenerate_session_id=False,
            query_retries=0,
        )
        try:
            admin = clickhouse_connect.get_client(**common)
            admin.command(f"CREATE DATABASE IF NOT EXISTS {database}")
            admin.close()
            self._client = clickhouse_connect.get_client(database=database, **common)
        except Exception as e:
            raise StoreError(f"ClickHouse connect failed: {safe_error(e)}") from None

    def execute(self, sql: str) -> None:
        try:
            self._client.command(sql)
        except Exception as e:
            raise StoreError(f"ClickHouse: {safe_error(e)}") from None

    def insert_jsonl(self, table: str, data: bytes, token: str) -> None:
        try:
            self._client.raw_insert(
                check_identifier(table),
                insert_block=data,
                settings={
                    "insert_deduplication_token": check_token(token),
                    "deduplicate_blocks_in_dependent_materialized_views": 1,
                    "optimize_on_insert": 0,
                },
                fmt="JSONEachRow",
            )
        except Exception as e:
            raise StoreError(f"ClickHouse insert into {table}: {safe_error(e)}") from None

    def select(self, sql: str, params: dict[str, str] | None = None) -> list[dict]:
        try:
            data = self._client.raw_query(sql, parameters=params or None, settings=SELECT_SETTINGS, fmt="JSONEachRow")
        except Exception as e:
            raise StoreError(f"ClickHouse: {safe_error(e)}") from None
        return parse_jsonl(data)

    def stream(self, sql: str, params: dict[str, str] | None = None) -> Iterator[dict]:
        try:
            raw = self._client.raw_stream(sql, parameters=params or None, settings=SELECT_SETTINGS, fmt="JSONEachRow")
            yield from iter_jsonl(raw)  # type: ignore[arg-type]
        except Exception as e:
            raise StoreError(f"ClickHouse: {safe_error(e)}") from None

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:
            pass
