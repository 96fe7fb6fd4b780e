"""The embedded backend: the ClickHouse engine in this process (chDB), data under <data_dir>/chdb.

chDB allows one data path per process; this store is its only user in the proxy.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from audit.store import SELECT_SETTINGS, StoreError, check_identifier, check_token, iter_jsonl, parse_jsonl, safe_error


class ChdbStore:
    """A chDB session on one data directory, with one database selected."""

    def __init__(self, path: Path, database: str = "customs") -> None:
        import chdb.session  # imported here: loading the engine is heavy and not always needed

        Path(path).mkdir(parents=True, exist_ok=True)
        self.database = check_identifier(database)
        # One connection: a streaming insert and a query must not interleave on it.
        self._lock = threading.Lock()
        try:
            self._session = chdb.session.Session(str(path))
            self._session.query(f"CREATE DATABASE IF NOT EXISTS {self.database}")
            self._session.query(f"USE {self.database}")
            for k, v in SELECT_SETTINGS.items():
                self._session.query(f"SET {k} = {v}")
        except Exception as e:
            raise StoreError(f"chDB open failed: {safe_error(e)}") from None

    def execute(self, sql: str) -> None:
        try:
            with self._lock:
                self._session.query(sql)
        except Exception as e:
            raise StoreError(f"chDB: {safe_error(e)}") from None

    def insert_jsonl(self, table: str, data: bytes, token: str) -> None:
        query = (
            f"INSERT INTO {check_identifier(table)} SETTINGS insert_deduplication_token = '{check_token(token)}', "
            # rows are unique by id: sorting each block to collapse duplicates is wasted work
            "deduplicate_blocks_in_dependent_materialized_views = 1, optimize_on_insert = 0"
        )
        try:
            with self._lock:
                ins = self._session.send_insert(query, "JSONEachRow")
                try:
                    ins.append(data)
                    ins.finish()
                except BaseException:
                    ins.cancel()
                    raise
        except Exception as e:
            raise StoreError(f"chDB insert into {table}: {safe_error(e)}") from None

    def select(self, sql: str, params: dict[str, str] | None = None) -> list[dict]:
        try:
            with self._lock:
                res = self._session.query(sql, "JSONEachRow", params=params or None)
        except Exception as e:
            raise StoreError(f"chDB: {safe_error(e)}") from None
        return parse_jsonl(res.bytes())

    def stream(self, sql: str, params: dict[str, str] | None = None) -> Iterator[dict]:
        # The connection stays busy (and locked) until the stream is exhausted or closed.
        with self._lock:
            try:
                result = self._session.send_query(sql, "JSONEachRow", params=params or None)
                with result:
                    yield from iter_jsonl(chunk.bytes() for chunk in result)
            except StoreError:
                raise
            except Exception as e:
                raise StoreError(f"chDB: {safe_error(e)}") from None

    def close(self) -> None:
        with self._lock:
            self._session.close()

