"""A small server speaking the part of OPA's REST API that opa-python-client uses, on regopy.

It lets the OPA engine path (`OpaServerEngine`) be tested without an OPA binary, and serves as
a dev sidecar: `python -m proxy.opa_rest --port 8181`. It binds 127.0.0.1 by default.

Supported: PUT/GET/DELETE /v1/policies/{id}, GET /v1/policies, PUT/PATCH/GET/DELETE
/v1/data/{path}, POST /v1/data/{path} with {"input": ...}, GET /health. Policies are compiled
with regopy on upload (bad syntax or an unsupported built-in is a 400, like OPA's compile
errors); queries compile a plan per path once and reuse it until policies or data change.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from proxy.policy import Compiled, Evaluator, PolicyLoadError, PolicyUnavailable, compile_modules

RULE_HEAD = re.compile(r"^(?:default\s+)?([a-z_][A-Za-z0-9_]*)\s*(?:\[[^\]\n]*\]\s*)?(?::=|=|contains\b|if\b|\{)", re.M)
PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.M)
_MISSING = object()


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors or []

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            out["errors"] = self.errors
        return out


def _entrypoints(source: str) -> list[str]:
    m = PACKAGE.search(source)
    if not m:
        return []
    pkg = m.group(1).split(".")
    return ["/".join(pkg + [name]) for name in sorted(set(RULE_HEAD.findall(source))) if name not in ("package", "import")]


@dataclass
class PolicyStore:
    """Policies and data as OPA holds them, plus compiled plans per query path."""

    policies: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    _plans: dict[str, tuple[Compiled, Evaluator]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- policies ---------------------------------------------------------------------------

    def put_policy(self, policy_id: str, source: str) -> None:
        modules = dict(self.policies)
        modules[policy_id] = source
        entrypoints = _entrypoints(source)
        if not entrypoints:
            raise ApiError(400, "invalid_parameter", "error(s) occurred while parsing module(s)",
                           [{"code": "rego_parse_error", "message": "package expected"}])
        try:
            compile_modules(modules, self.data, entrypoints)
        except PolicyLoadError as exc:
            raise ApiError(400, "invalid_parameter", f"error(s) occurred while compiling module(s): {exc}",
                           [{"code": "rego_compile_error", "message": str(exc)}]) from None
        self.policies[policy_id] = source
        self._plans.clear()

    def delete_policy(self, policy_id: str) -> None:
        if self.policies.pop(policy_id, None) is None:
            raise ApiError(404, "resource_not_found", f"storage_not_found_error: policy id {policy_id!r}")
        self._plans.clear()

    # -- data -------------------------------------------------------------------------------

    def get_data(self, path: list[str]) -> Any:
        node: Any = self.data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return _MISSING
            node = node[part]
        return node

    def put_data(self, path: list[str], value: Any) -> None:
        if not path:
            if not isinstance(value, dict):
                raise ApiError(400, "invalid_parameter", "root document must be an object")
            self.data = value
        else:
            node = self.data
            for part in path[:-1]:
                nxt = node.get(part)
                if not isinstance(nxt, dict):
                    nxt = node[part] = {}
                node = nxt
            node[path[-1]] = value
        self._plans.clear()

    def delete_data(self, path: list[str]) -> None:
        parent = self.get_data(path[:-1]) if path else _MISSING
        if not path or not isinstance(parent, dict) or path[-1] not in parent:
            raise ApiError(404, "resource_not_found", f"storage_not_found_error: /{'/'.join(path)}")
        del parent[path[-1]]
        self._plans.clear()

    def patch_data(self, path: list[str], patches: list[dict[str, Any]]) -> None:
        base = self.get_data(path)
        doc = copy.deepcopy(base if base is not _MISSING else {})
        for op in patches:
            doc = _apply_patch(doc, op)
        self.put_data(path, doc)

    # -- queries ----------------------------------------------------------------------------

    def query(self, path: list[str], input: Any) -> tuple[bool, Any]:
        """(defined, value) of data.<path>: a rule through a cached plan, or stored data."""
        if not path:
            return True, self.data
        stored = self.get_data(path)
        key = "/".join(path)
        if stored is not _MISSING and not any(_entrypoints(src) and key in _entrypoints(src)
                                              for src in self.policies.values()):
            return True, stored
        plan = self._plans.get(key)
        if plan is None:
            try:
                compiled = compile_modules(self.policies, self.data, [key])
            except PolicyLoadError as exc:
                raise ApiError(500, "internal_error", str(exc)) from None
            plan = self._plans[key] = (compiled, Evaluator(compiled))
        try:
            return plan[1].run(key, input if isinstance(input, dict) else {"value": input} if input is not None else "{}")
        except PolicyUnavailable as exc:
            raise ApiError(500, "internal_error", str(exc)) from None


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.strip("/").split("/") if p != ""]


def _apply_patch(doc: Any, op: dict[str, Any]) -> Any:
    """add / replace / remove of RFC 6902 (what OPA's PATCH supports)."""
    kind, parts = op.get("op"), _pointer(str(op.get("path", "")))
    if not parts:
        if kind in ("add", "replace"):
            return copy.deepcopy(op.get("value"))
        raise ApiError(400, "invalid_parameter", "cannot remove the root")
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if kind in ("add", "replace"):
        if isinstance(node, list):
            if last == "-":
                node.append(op.get("value"))
            elif kind == "add":
                node.insert(int(last), op.get("value"))
            else:
                node[int(last)] = op.get("value")
        else:
            node[last] = op.get("value")
    elif kind == "remove":
        try:
            del node[int(last) if isinstance(node, list) else last]
        except (KeyError, IndexError):
            raise ApiError(404, "resource_not_found", f"no value at {op.get('path')}") from None
    else:
        raise ApiError(400, "invalid_parameter", f"unsupported patch op {kind!r}")
    return doc


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses one connection
    server: OpaRestServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus delayed ACKs add
        # ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and dev sidecar
        pass

    def _send(self, status: int, body: Any = None) -> None:
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if raw:
            self.wfile.write(raw)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> Any:
        raw = self._body()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise ApiError(400, "invalid_parameter", "body is not JSON") from None

    def _route(self, method: str) -> None:
        store = self.server.store
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
        try:
            with store.lock:
                status, body = self._dispatch(method, parts, store)
        except ApiError as exc:
            status, body = exc.status, exc.body()
        self._send(status, body)

    def _dispatch(self, method: str, parts: list[str], store: PolicyStore) -> tuple[int, Any]:
        if parts == ["health"] and method == "GET":
            return 200, {}
        if len(parts) < 2 or parts[0] != "v1":
            raise ApiError(404, "resource_not_found", "unknown path")
        kind, rest = parts[1], parts[2:]
        if kind == "policies":
            policy_id = "/".join(rest)
            if method == "GET" and not policy_id:
                return 200, {"result": [{"id": k, "raw": v, "ast": {}} for k, v in sorted(store.policies.items())]}
            if method == "GET":
                if policy_id not in store.policies:
                    raise ApiError(404, "resource_not_found", f"storage_not_found_error: policy id {policy_id!r}")
                return 200, {"result": {"id": policy_id, "raw": store.policies[policy_id], "ast": {}}}
            if method == "PUT":
                store.put_policy(policy_id, self._body().decode("utf-8", "replace"))
                return 200, {}
            if method == "DELETE":
                store.delete_policy(policy_id)
                return 200, {}
        elif kind == "data":
            if method == "GET":
                defined, value = store.query(rest, None)
                return 200, ({"result": value} if defined else {})
            if method == "POST":
                body = self._json_body() or {}
                defined, value = store.query(rest, body.get("input") if isinstance(body, dict) else None)
                return 200, ({"result": value} if defined else {})
            if method == "PUT":
                store.put_data(rest, self._json_body())
                return 204, None
            if method == "PATCH":
                patches = self._json_body()
                if not isinstance(patches, list):
                    raise ApiError(400, "invalid_parameter", "PATCH body must be a JSON Patch list")
                store.patch_data(rest, patches)
                return 204, None
            if method == "DELETE":
                store.delete_data(rest)
                return 204, None
        raise ApiError(405, "invalid_parameter", f"{method} not supported on /v1/{kind}")

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._route("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._route("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")


class OpaRestServer(ThreadingHTTPServer):
    """The server; `start()` runs it on a daemon thread, `stop()` shuts it down and joins."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.store = PolicyStore()
        self.connections: set[socket.socket] = set()  # open keep-alive connections, closed on stop
        self.conn_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Serve on a background thread; returns the base URL."""
        self._thread = threading.Thread(target=self.serve_forever, name="opa-rest", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the thread."""
        self.shutdown()
        self.server_close()
        with self.conn_lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpaRestServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run as a dev sidecar until interrupted."""
    parser = argparse.ArgumentParser(description="OPA REST API subset backed by regopy")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8181)
    args = parser.parse_args(argv)
    server = OpaRestServer(args.host, args.port)
    print(f"serving OPA REST API (regopy) on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
