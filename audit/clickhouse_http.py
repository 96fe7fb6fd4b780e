"""A loopback endpoint speaking the subset of ClickHouse's HTTP interface that clickhouse-connect
uses, executing in chDB. CI has no ClickHouse server; this lets the clickhouse-connect backend be
tested for real, and stopping/starting it is how the fault tests simulate an outage.

Supported: GET /ping; GET/POST / with the query in `query` or in the body; INSERT with its data in
the body (any input format chDB reads, e.g. Native or JSONEachRow; chunked and gzip/deflate/zstd/lz4
bodies); `database`, `param_<name>` and settings as URL parameters (settings apply to SELECT and,
for insert_* / deduplicate_* ones, to INSERT); results in the FORMAT the query names, else
`default_format`, else TabSeparated. Errors come back like ClickHouse's: `Code: N. DB::Exception`
text with an X-ClickHouse-Exception-Code header.

Run: python -m audit.clickhouse_http --path DIR [--port 0]  (prints "ready <url>" when listening)
"""
from __future__ import annotations

import argparse
import gzip
import re
import signal
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

# URL parameters that are transport options, not query settings.
TRANSPORT_PARAMS = {
    "query", "database", "default_format", "user", "password", "query_id", "session_id", "session_timeout",
    "session_check", "compress", "decompress", "buffer_size", "wait_end_of_query", "enable_http_compression",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms", "client_protocol_version",
    "quota_key", "role", "http_zlib_compression_level",
}
_INSERT = re.compile(r"(?is)^\s*(INSERT\s+INTO\s+.*?)\s+FORMAT\s+(\w+)[ \t]*\r?\n?(.*)$")
_TRAILING_FORMAT = re.compile(r"(?is)\s+FORMAT\s+(\w+)\s*;?\s*$")
_SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_ERROR_CODE = re.compile(r"Code:\s*(\d+)")
_INSERT_SETTINGS = ("insert_", "deduplicate_", "async_insert", "input_format_")


def _setting_value(v: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?", v):
        return v
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _settings_clause(settings: dict[str, str]) -> str:
    return ", ".join(f"{k} = {_setting_value(v)}" for k, v in settings.items())


def decode_body(data: bytes, encoding: str) -> bytes:
    """Undo the Content-Encoding clickhouse-connect may use for INSERT bodies."""
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity":
        return data
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "zstd":
        try:
            from compression import zstd  # type: ignore[import-not-found]
        except ImportError:
            from backports import zstd  # type: ignore[import-not-found,no-redef]
        return zstd.decompress(data)
    if encoding == "lz4":
        import lz4.frame

        return lz4.frame.decompress(data)
    raise ValueError(f"unsupported Content-Encoding {encoding}")


class ChdbExecutor:
    """One chDB session, used by one request at a time (chDB allows one path per process)."""

    def __init__(self, path: Path) -> None:
        import chdb.session

        Path(path).mkdir(parents=True, exist_ok=True)
        self._session = chdb.session.Session(str(path))
        self._lock = threading.Lock()
        self._database = "default"

    def _use(self, database: str | None) -> None:
        database = database or "default"
        if database != self._database:
            if not _SETTING_NAME.match(database.lower()):
                raise ValueError("bad database name")
            self._session.query(f"USE {database}")
            self._database = database

    def run(self, head: str, data: bytes, params: dict[str, str]) -> tuple[bytes, str]:
        """Execute one request; returns (response body, format)."""
        qparams = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        settings = {
            k: v for k, v in params.items()
            if k not in TRANSPORT_PARAMS and not k.startswith("param_") and _SETTING_NAME.match(k)
        }
        with self._lock:
            self._use(params.get("database"))
            m = _INSERT.match(head)
            if m:
                target, fmt, inline = m.group(1), m.group(2), m.group(3)
                ins_settings = {k: v for k, v in settings.items() if k.startswith(_INSERT_SETTINGS)}
                if ins_settings and not re.search(r"(?i)\bSETTINGS\b", target):
                    target += " SETTINGS " + _settings_clause(ins_settings)
                ins = self._session.send_insert(target, fmt)
                try:
                    if inline:
                        ins.append(inline.encode("utf-8"))
                    if data:
                        ins.append(data)
                    ins.finish()
                except BaseException:
                    ins.cancel()
                    raise
                return b"", fmt
            sql = head + (("\n" + data.decode("utf-8")) if data else "")
            fmt = params.get("default_format") or "TabSeparated"
            fm = _TRAILING_FORMAT.search(sql)
            if fm:
                fmt, sql = fm.group(1), sql[: fm.start()]
            is_select = re.match(r"(?is)^\s*(\(?\s*SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS)\b", sql) is not None
            if settings and is_select and not re.search(r"(?i)\bSETTINGS\b", sql):
                sql = sql.rstrip().rstrip(";") + " SETTINGS " + _settings_clause(settings)
            res = self._session.query(sql, fmt, params=qparams or None)
            return (res.bytes() if res is not None else b""), fmt

    def close(self) -> None:
        with self._lock:
            self._session.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ClickHouseHttpServer

    def log_message(self, format: str, *args: object) -> None:  # quiet: queries may carry data
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(parts)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return decode_body(body, self.headers.get("Content-Encoding", ""))

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        if url.path.rstrip("/") in ("/ping",):
            self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        if url.path not in ("/", ""):
            self._send(404, b"Code: 404. DB::Exception: unknown path. (UNKNOWN)\n")
            return
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            body = self._read_body() if method == "POST" else b""
            if "query" in params:
                head, data = params["query"], body
            else:
                head, data = body.decode("utf-8"), b""
            if not head.strip():
                self._send(200, b"Ok.\n")
                return
            out, fmt = self.server.executor.run(head, data, params)
        except Exception as e:
            text = str(e).strip() or type(e).__name__
            m = _ERROR_CODE.search(text)
            code = m.group(1) if m else "1000"
            if not m:
                text = f"Code: {code}. DB::Exception: {text}. (STD_EXCEPTION)"
            self._send(500, (text + "\n").encode(), {
                "X-ClickHouse-Exception-Code": code,
                "Content-Type": "text/plain; charset=UTF-8",
            })
            return
        self._send(200, out, {
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Summary": '{"read_rows":"0","written_rows":"0"}',
            "Content-Type": "application/octet-stream",
        })

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


class ClickHouseHttpServer(ThreadingHTTPServer):
    """The endpoint; bind 127.0.0.1 only. start()/stop() run it on a thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, executor: ChdbExecutor, port: int = 0, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the ClickHouse test endpoint binds loopback only")
        super().__init__((host, port), _Handler)
        self.executor = executor
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}" if isinstance(host, str) else f"http://{host.decode()}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="clickhouse-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True, help="chDB data directory")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    executor = ChdbExecutor(Path(args.path))
    server = ClickHouseHttpServer(executor, args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print(f"ready {server.url}", flush=True)
    stop.wait()
    server.stop()
    executor.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
