"""The policy decision client: one interface, two engines (embedded regopy, or an OPA server).

Both engines read the same bundle directory: `*.rego` modules (tests `*_test.rego` beside them)
and `data/*.yaml|*.yml|*.json`, each data file mounted at `data.customs.<file stem>`. The entry
point is `data.customs.decision`; its JSON shape is documented in policies/README.md and mapped
here to the frozen `proxy.decision.Decision`.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, Self
from urllib.parse import urlparse

import yaml

from proxy.decision import DEFAULT_KIND_ACTIONS, Action, Decision, Reason, Route

log = logging.getLogger(__name__)

DECISION_ENTRYPOINT = "customs/decision"
DATA_ROOT = "customs"
ACTIONS: frozenset[str] = frozenset({"mask", "block", "keep"})
DATA_SUFFIXES = (".yaml", ".yml", ".json")

# regopy 1.5.2 aborts the whole process (C++ terminate, not a Python exception) when it compiles
# `with input as <value>` over rules that call functions; `with input.<field> as` works. Such
# modules are refused before they reach the compiler.
WITH_WHOLE_INPUT = re.compile(r"\bwith\s+input\s+as\b")


class PolicyUnavailable(Exception):
    """The engine cannot give a decision (down, unloadable, malformed answer): fail closed."""


class PolicyLoadError(PolicyUnavailable):
    """The bundle does not compile, uses a built-in the engine lacks, or cannot be read."""


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """How the proxy gets its decisions."""

    engine: str = "embedded"  # "embedded" | "opa"
    dir: str = "policies"  # bundle directory: *.rego and data/*.yaml|json
    opa_url: str | None = None  # for engine "opa"; env OPA_URL overrides it in from_dict
    fail_closed: bool = True
    reload_interval_s: float = 2.0  # how often decide() looks for changed files (mtime scan)
    opa_timeout_s: float = 1.0  # per OPA request; a slow sidecar must not stall the proxy
    opa_push: bool = True  # push policies and data to OPA (False: OPA serves its own bundle)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Self:
        """Build from the `policy:` section of the config file; unknown keys are rejected."""
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown policy settings: {', '.join(unknown)}")
        if "reload_interval_s" in d:
            d["reload_interval_s"] = float(d["reload_interval_s"])
        if "opa_timeout_s" in d:
            d["opa_timeout_s"] = float(d["opa_timeout_s"])
        if os.environ.get("OPA_URL"):  # CI points the whole suite at a real OPA this way
            d["opa_url"] = os.environ["OPA_URL"]
        if d.get("engine", "embedded") not in ("embedded", "opa"):
            raise ValueError(f"policy engine must be 'embedded' or 'opa', not {d['engine']!r}")
        return cls(**d)

    def resolved_opa_url(self) -> str | None:
        """The OPA base URL: the configured one, else env OPA_URL."""
        return self.opa_url or os.environ.get("OPA_URL")


class PolicyEngine(Protocol):
    revision: str

    def decide(self, input: dict[str, Any]) -> Decision: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# The bundle on disk


@dataclass(frozen=True, slots=True)
class PolicyBundle:
    """The files of one policy directory, read at one moment."""

    root: Path
    modules: dict[str, str]  # path relative to root -> Rego source (tests included)
    data: dict[str, Any]  # file stem -> parsed content, mounted at data.customs.<stem>
    revision: str  # short content hash of modules and data files

    @property
    def policy_modules(self) -> dict[str, str]:
        return {p: s for p, s in self.modules.items() if not is_test_module(p)}

    @property
    def test_modules(self) -> dict[str, str]:
        return {p: s for p, s in self.modules.items() if is_test_module(p)}

    def data_document(self) -> dict[str, Any]:
        return {DATA_ROOT: self.data}


def is_test_module(path: str) -> bool:
    """Rego tests live beside the policy as `<name>_test.rego`."""
    return path.endswith("_test.rego")


def _bundle_files(root: Path) -> tuple[list[Path], list[Path]]:
    rego = sorted(p for p in root.rglob("*.rego") if p.is_file() and "data" not in p.relative_to(root).parts[:-1])
    data_dir = root / "data"
    data = sorted(p for p in data_dir.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES) if data_dir.is_dir() else []
    return rego, data


def bundle_signature(root: str | Path) -> tuple[tuple[str, int, int], ...]:
    """A cheap fingerprint (name, mtime, size) of the bundle files, to notice edits."""
    root = Path(root)
    try:
        rego, data = _bundle_files(root)
        return tuple((str(p), st.st_mtime_ns, st.st_size) for p in rego + data for st in [p.stat()])
    except OSError:
        return ()


def read_bundle(root: str | Path) -> PolicyBundle:
    """Read every module and data file of a bundle directory; raise PolicyLoadError if unreadable."""
    root = Path(root)
    if not root.is_dir():
        raise PolicyLoadError(f"policy directory {root} does not exist")
    digest = hashlib.sha256()
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    try:
        rego, data_files = _bundle_files(root)
        for path in rego:
            rel = path.relative_to(root).as_posix()
            raw = path.read_bytes()
            digest.update(b"rego\0" + rel.encode() + b"\0" + raw + b"\0")
            modules[rel] = raw.decode("utf-8")
        for path in data_files:
            raw = path.read_bytes()
            digest.update(b"data\0" + path.name.encode() + b"\0" + raw + b"\0")
            if path.stem in data:
                raise PolicyLoadError(f"two data files for data.customs.{path.stem}")
            parsed = json.loads(raw) if path.suffix == ".json" else yaml.safe_load(raw)
            # Round-trip through JSON so YAML dates and the like become what OPA would see.
            data[path.stem] = json.loads(json.dumps(parsed if parsed is not None else {}, default=str))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise PolicyLoadError(f"cannot read policy bundle {root}: {exc}") from None
    if not any(not is_test_module(p) for p in modules):
        raise PolicyLoadError(f"no Rego modules in {root}")
    return PolicyBundle(root, modules, data, digest.hexdigest()[:12])


# ---------------------------------------------------------------------------------------------
# Compiling with regopy


@dataclass(slots=True)
class Compiled:
    """A regopy bundle plus the interpreter that built it (the bundle must not outlive it)."""

    bundle: Any
    builder: Any
    entrypoints: tuple[str, ...]


# A call site: a (possibly dotted) name directly followed by "(". Strings and comments are
# blanked out first so that text inside them never looks like a call.
_CALL = re.compile(r"(?<![\w.])((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)\s*\(")
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|#[^\n]*')
_FUNCTION_HEAD = re.compile(r"^\s*([A-Za-z_]\w*)\s*\(", re.MULTILINE)
_IMPORT = re.compile(r"^\s*import\s+([\w.]+)(?:\s+as\s+(\w+))?", re.MULTILINE)
# `set()` is the empty-set literal, not a call.
_KEYWORDS = frozenset({"if", "not", "some", "every", "in", "contains", "with", "else", "as", "default", "import",
                       "package", "true", "false", "null", "set"})


def unsupported_builtins(builder: Any, modules: Mapping[str, str]) -> list[str]:
    """Functions the modules call that are neither policy functions nor regopy built-ins.

    regopy compiles calls to functions it does not implement (e.g. `http.send`) and, at
    evaluation, turns them into undefined or an error; we refuse them at load time instead.
    The check reads the sources: regopy's `save_bundle` (which would expose the compiled plan)
    corrupts the heap when other native extensions (hyperscan, numpy) share the process.
    """
    defined: set[str] = set()
    aliases: set[str] = {"data", "input"}
    calls: set[str] = set()
    for source in modules.values():
        code = _STRING_OR_COMMENT.sub(lambda m: " " * len(m.group(0)), source)
        defined.update(_FUNCTION_HEAD.findall(code))
        for path, alias in _IMPORT.findall(code):
            aliases.add(alias or path.rsplit(".", 1)[-1])
        calls.update(_CALL.findall(code))
    missing = []
    for name in calls:
        head = name.split(".", 1)[0]
        if name in _KEYWORDS or name in defined or head in aliases or builder.is_builtin(name):
            continue
        missing.append(name)
    return sorted(missing)


def compile_modules(
    modules: Mapping[str, str], data: Mapping[str, Any], entrypoints: Iterable[str]
) -> Compiled:
    """Compile modules and data into a regopy bundle; raise PolicyLoadError on any problem."""
    from regopy import Interpreter, LogLevel, RegoError

    entrypoints = tuple(entrypoints)
    for path, source in modules.items():
        if WITH_WHOLE_INPUT.search(source):
            raise PolicyLoadError(
                f"{path}: `with input as` is not supported by the embedded engine (regopy aborts); "
                "replace the whole input field by field: `with input.request as {...}`"
            )
    builder = Interpreter()
    # rego-cpp prints compile errors to stdout itself; we report them through the exception.
    builder.log_level = LogLevel.NONE
    try:
        builder.add_data_json(json.dumps(data))
        for path, source in modules.items():
            builder.add_module(path, source)
        bundle = builder.build(None, list(entrypoints))
    except RegoError as exc:
        raise PolicyLoadError(f"policy does not compile: {_rego_message(str(exc), modules)}") from None
    if not bundle.ok():
        raise PolicyLoadError("policy does not compile")
    missing = unsupported_builtins(builder, modules)
    if missing:
        raise PolicyLoadError(f"built-ins not supported by the embedded engine: {', '.join(missing)}")
    return Compiled(bundle, builder, entrypoints)


def _rego_message(raw: str, modules: Mapping[str, str] | None = None) -> str:
    """The error messages out of rego-cpp's S-expression error dump, with file:line:col."""
    found: list[str] = []
    for m in re.finditer(r"\(error \d+:([^|\s]*)\|(\d+)\|\d+\s*\(errormsg \d+:([^)]*)\)|\(errormsg \d+:([^)]*)\)", raw):
        path, offset, msg = m.group(1), m.group(2), m.group(3) or m.group(4)
        where = ""
        if path:
            where = path
            source = (modules or {}).get(path)
            if source is not None and offset is not None:
                before = source[: int(offset)]
                where = f"{path}:{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"
        text = f"{msg.strip()} ({where})" if where else msg.strip()
        if text not in found:
            found.append(text)
    return "; ".join(found) if found else raw.strip()[:500]


class Evaluator:
    """Runs entrypoints of one compiled bundle.

    regopy's Interpreter is not thread-safe; the proxy calls from its event loop only, and an
    uncontended lock (well under a microsecond) keeps a stray caller thread from corrupting it.
    """

    def __init__(self, compiled: Compiled) -> None:
        from regopy import Interpreter

        self.compiled = compiled
        self._interp = Interpreter()
        self._lock = threading.Lock()

    def run(self, entrypoint: str, input: Mapping[str, Any] | str) -> tuple[bool, Any]:
        """(defined, value) of one entrypoint for an input (a mapping or JSON text)."""
        with self._lock:
            return self._run(entrypoint, input)

    def _run(self, entrypoint: str, input: Mapping[str, Any] | str) -> tuple[bool, Any]:
        """(defined, value) of one entrypoint for an input (a mapping or JSON text).

        A mapping whose strings need no JSON escaping is handed to regopy as a term tree (see
        _InputTerm), several times faster than having regopy parse JSON text.
        """
        from regopy.rego_shared import (
            rego_bundle_query_entrypoint,
            rego_free_output,
            rego_output_ok,
            rego_output_string,
            rego_set_input,
        )

        from regopy import RegoError

        try:
            term = None if isinstance(input, str) else _InputTerm.build(input)
            if term is None:
                # regopy's term builder stores strings unescaped and its JSON output then
                # garbles quotes and backslashes; parsed JSON input does not have that problem.
                text = input if isinstance(input, str) else json.dumps(input, ensure_ascii=False, default=str)
                self._interp.set_input_term(text)
            else:
                rego_set_input(self._interp._impl, term.impl)
            out = rego_bundle_query_entrypoint(self._interp._impl, self.compiled.bundle._impl, entrypoint)
        except RegoError as exc:
            raise PolicyUnavailable(f"policy evaluation failed: {_rego_message(str(exc))}") from None
        try:
            ok = rego_output_ok(out)
            text = rego_output_string(out)
        finally:
            rego_free_output(out)
        if not ok or text.startswith("(error") or text.startswith("<error"):
            raise PolicyUnavailable(f"policy evaluation failed: {_rego_message(text)}")
        if text == "undefined":
            return False, None
        result = json.loads(text)
        if isinstance(result, list):  # several results: a rule must give one
            if len(result) != 1:
                raise PolicyUnavailable(f"{entrypoint} has {len(result)} results")
            result = result[0]
        exprs = result.get("expressions") or []
        if not exprs:
            return False, None
        return True, exprs[0]


class _InputTerm:
    """A regopy input term built straight from a JSON-shaped mapping.

    regopy's own `Input(value)` makes one Python wrapper call (plus a string buffer copy) per
    node; calling the C builder directly, through prototypes of our own that return nothing
    (the builder records an error and `regoInputValidate` reports it once at the end), costs
    well under half. Strings that JSON would escape (quotes, backslashes, control characters)
    make `build` return None: the term builder would store them unescaped (see Evaluator._run).
    Values that are not JSON types become strings, as `json.dumps(default=str)` would.
    """

    __slots__ = ("_impl",)

    _api: Any = None

    def __init__(self, impl: int) -> None:
        self._impl = impl

    def __del__(self) -> None:
        if self._impl:
            self._api.regoFreeInput(self._impl)
            self._impl = None

    @classmethod
    def _load(cls) -> Any:
        """Our own handle on librego_shared, so regopy's prototypes stay as they are."""
        from regopy.rego_shared import rego

        api = ctypes.CDLL(rego._name)
        ptr = ctypes.c_void_p
        for name, args in (("regoInputString", [ptr, ctypes.c_char_p]), ("regoInputInt", [ptr, ctypes.c_int64]),
                           ("regoInputFloat", [ptr, ctypes.c_double]), ("regoInputBoolean", [ptr, ctypes.c_bool]),
                           ("regoInputNull", [ptr]), ("regoInputObjectItem", [ptr]),
                           ("regoInputObject", [ptr, ctypes.c_uint32]), ("regoInputArray", [ptr, ctypes.c_uint32])):
            fn = getattr(api, name)
            fn.argtypes, fn.restype = args, None
        api.regoNewInput.argtypes, api.regoNewInput.restype = [], ptr
        api.regoInputValidate.argtypes, api.regoInputValidate.restype = [ptr], ctypes.c_uint32
        api.regoFreeInput.argtypes, api.regoFreeInput.restype = [ptr], None
        cls._api = api
        return api

    @classmethod
    def build(cls, value: Any) -> _InputTerm | None:
        """The term for `value`, or None if a string in it needs escaping."""
        api = cls._api or cls._load()
        impl = api.regoNewInput()
        term = cls(impl)
        put_str, put_int, put_float = api.regoInputString, api.regoInputInt, api.regoInputFloat
        put_bool, put_null = api.regoInputBoolean, api.regoInputNull
        put_item, put_object, put_array = api.regoInputObjectItem, api.regoInputObject, api.regoInputArray

        def add(v: Any) -> None:
            t = type(v)
            if t is str:
                if '"' in v or "\\" in v or not v.isprintable():
                    raise _NeedsEscaping
                put_str(impl, v.encode())
            elif t is dict:
                for k, x in v.items():
                    add(k if type(k) is str else str(k))
                    add(x)
                    put_item(impl)
                put_object(impl, len(v))
            elif v is None:
                put_null(impl)
            elif t is bool:
                put_bool(impl, v)
            elif t is int:
                put_int(impl, v)
            elif t is float:
                put_float(impl, v)
            elif t is list or t is tuple:
                for x in v:
                    add(x)
                put_array(impl, len(v))
            elif isinstance(v, Mapping):
                add(dict(v))
            elif isinstance(v, list | tuple):
                add(list(v))
            elif isinstance(v, bool | int | float):  # subclasses (IntEnum, ...)
                add(json.loads(json.dumps(v)))
            else:
                add(str(v))

        try:
            add(value)
        except (_NeedsEscaping, ctypes.ArgumentError):  # ArgumentError: an int beyond 64 bits
            return None
        status = api.regoInputValidate(impl)
        if status:
            from regopy import RegoError

            raise RegoError("Unable to create input", status)
        return term

    @property
    def impl(self) -> int:
        return self._impl


class _NeedsEscaping(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Decision mapping


def decision_from_result(result: Any, revision: str) -> Decision:
    """Map the JSON of data.customs.decision to a Decision; malformed -> PolicyUnavailable."""
    if not isinstance(result, dict):
        raise PolicyUnavailable("policy returned no decision object")
    allow = result.get("allow")
    if not isinstance(allow, bool):
        raise PolicyUnavailable("policy decision has no boolean `allow`")
    reasons: list[Reason] = []
    for r in result.get("reasons") or []:
        if not isinstance(r, dict) or not isinstance(r.get("rule"), str):
            raise PolicyUnavailable("policy reason without a rule")
        reasons.append(Reason(r["rule"], str(r.get("message", ""))))
    actions = _actions(result.get("actions"), "actions")
    kind_actions = dict(DEFAULT_KIND_ACTIONS)
    kind_actions.update(_actions(result.get("kind_actions"), "kind_actions"))
    route = None
    raw_route = result.get("route")
    if raw_route is not None:
        if not isinstance(raw_route, dict) or not raw_route.get("endpoint") or not raw_route.get("upstream"):
            raise PolicyUnavailable("policy route needs endpoint and upstream")
        route = Route(str(raw_route["endpoint"]), str(raw_route["upstream"]), str(raw_route.get("region") or ""))
    max_tokens = result.get("max_tokens")
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int | float) or max_tokens < 0:
            raise PolicyUnavailable("policy max_tokens must be a non-negative number")
        max_tokens = int(max_tokens)
    audit_level = result.get("audit_level", "full")
    if audit_level not in ("full", "metadata"):
        raise PolicyUnavailable("policy audit_level must be full or metadata")
    if not allow and not reasons:
        reasons.append(Reason("policy.deny", "denied by policy"))
    return Decision(
        allow=allow,
        reasons=tuple(reasons),
        actions=actions,
        kind_actions=kind_actions,
        route=route,
        max_tokens=max_tokens,
        audit_level=audit_level,
        region=str(result.get("region") or ""),
        revision=revision,
    )


def _actions(raw: Any, name: str) -> dict[str, Action]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or any(v not in ACTIONS for v in raw.values()):
        raise PolicyUnavailable(f"policy {name} must map names to mask|block|keep")
    return {str(k): v for k, v in raw.items()}


# ---------------------------------------------------------------------------------------------
# Change detection shared by both engines


@dataclass(slots=True)
class _Watch:
    """Looks at the bundle's file fingerprint at most every `interval` seconds."""

    root: Path
    interval: float
    signature: tuple[tuple[str, int, int], ...] = ()
    checked_at: float = field(default_factory=time.monotonic)

    def changed(self, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self.checked_at < self.interval:
            return False
        self.checked_at = now
        sig = bundle_signature(self.root)
        if sig == self.signature:
            return False
        self.signature = sig
        return True


# ---------------------------------------------------------------------------------------------
# Embedded engine


class EmbeddedEngine:
    """regopy in process: the bundle is compiled once and re-compiled when its files change.

    A bundle that fails to load at start raises PolicyLoadError; a broken edit later is logged
    and the last good bundle keeps deciding (like OPA keeping its active bundle).
    """

    def __init__(self, config: PolicyConfig | None = None, *, bundle: PolicyBundle | None = None) -> None:
        config = config or PolicyConfig()
        self.root = Path(config.dir)
        self._watch = _Watch(self.root, config.reload_interval_s, bundle_signature(self.root))
        self.last_error = ""
        self._closed = False
        self._install(bundle or read_bundle(self.root))

    def _install(self, bundle: PolicyBundle) -> None:
        compiled = compile_modules(bundle.policy_modules, bundle.data_document(), [DECISION_ENTRYPOINT])
        self._evaluator = Evaluator(compiled)
        self.bundle = bundle
        self.revision = bundle.revision

    def reload(self, force: bool = False) -> bool:
        """Re-read the bundle if its files changed; True when a new revision is now active."""
        if not self._watch.changed(force):
            return False
        try:
            bundle = read_bundle(self.root)
            if bundle.revision == self.revision:
                return False
            self._install(bundle)
        except PolicyUnavailable as exc:
            self.last_error = str(exc)
            log.error("policy reload failed, keeping revision %s: %s", self.revision, exc)
            return False
        self.last_error = ""
        log.info("policy revision %s loaded from %s", self.revision, self.root)
        return True

    def evaluate(self, input: Mapping[str, Any]) -> Any:
        """The raw JSON value of data.customs.decision for one input (None if undefined)."""
        if self._closed:
            raise PolicyUnavailable("policy engine closed")
        defined, value = self._evaluator.run(DECISION_ENTRYPOINT, input)
        return value if defined else None

    def decide(self, input: dict[str, Any]) -> Decision:
        """The Decision for one policy input; PolicyUnavailable if none can be given."""
        self.reload()
        return decision_from_result(self.evaluate(input), self.revision)

    def close(self) -> None:
        self._closed = True


# ---------------------------------------------------------------------------------------------
# OPA server engine


def policy_id(path: str) -> str:
    """The OPA policy id for a module path: stable, readable, namespaced to Customs."""
    return "customs/" + path.removesuffix(".rego")


class OpaServerEngine:
    """An OPA server (or anything speaking its REST API) through opa-python-client.

    Policies (tests excluded) and data are pushed on start and whenever the directory changes;
    decisions come from POST /v1/data/customs/decision. If OPA is unreachable at start, the push
    is retried on each decide() and decisions fail closed until it succeeds.
    """

    def __init__(self, config: PolicyConfig) -> None:
        from opa_client import OpaClient

        url = config.resolved_opa_url()
        if not url:
            raise PolicyLoadError("policy engine 'opa' needs opa_url (or env OPA_URL)")
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise PolicyLoadError(f"bad OPA URL {url!r}")
        ssl = parsed.scheme == "https"
        self.url = f"{parsed.scheme}://{parsed.netloc}"
        self._client = OpaClient(
            host=parsed.hostname,
            port=parsed.port or (443 if ssl else 8181),
            ssl=ssl,
            timeout=config.opa_timeout_s,
            retries=0,  # fail fast; the caller decides whether to fail closed
        )
        self._push_enabled = config.opa_push
        self.root = Path(config.dir)
        self._watch = _Watch(self.root, config.reload_interval_s, bundle_signature(self.root))
        self.wanted = read_bundle(self.root)  # the newest bundle read from disk
        self._pushed: PolicyBundle | None = None  # what OPA holds, as far as we know
        self.revision = self.wanted.revision
        self.last_error = ""
        if self._push_enabled:
            try:
                self._push(self.wanted)
            except PolicyLoadError:
                raise
            except PolicyUnavailable as exc:
                self.last_error = str(exc)
                log.warning("OPA at %s not ready, will push on first decision: %s", self.url, exc)

    # -- pushing ---------------------------------------------------------------------------

    def _push(self, bundle: PolicyBundle) -> None:
        import requests

        from opa_client.errors import ConnectionsError, DeleteDataError, DeletePolicyError, PolicyNotFoundError

        previous = self._pushed
        try:
            for stem, value in bundle.data.items():
                self._client.update_or_create_data(value if isinstance(value, dict) else {"value": value},
                                                   f"{DATA_ROOT}/{stem}")
            self._push_modules(bundle.policy_modules)
            if previous is not None:
                for path in set(previous.policy_modules) - set(bundle.policy_modules):
                    self._client.delete_policy(policy_id(path))
                for stem in set(previous.data) - set(bundle.data):
                    self._client.delete_data(f"{DATA_ROOT}/{stem}")
        except (requests.RequestException, OSError, ConnectionsError) as exc:
            raise PolicyUnavailable(f"OPA at {self.url} unreachable: {type(exc).__name__}") from None
        except (DeletePolicyError, DeleteDataError, PolicyNotFoundError) as exc:
            raise PolicyUnavailable(f"OPA at {self.url} refused an update: {getattr(exc, 'message', exc)}") from None
        except Exception as exc:  # the client raises its own types for compile errors
            message = getattr(exc, "message", None) or str(exc)
            raise PolicyLoadError(f"OPA at {self.url} rejected the policy bundle: {message}") from None
        self._pushed = bundle

    def _push_modules(self, modules: dict[str, str]) -> None:
        """PUT every module; OPA compiles each against what it holds, so a module whose imports
        are not there yet is retried after the others."""
        import requests

        pending = dict(modules)
        while pending:
            failed: dict[str, str] = {}
            last: Exception | None = None
            for path, source in pending.items():
                try:
                    self._client.update_policy_from_string(source, policy_id(path), rego_compat=False)
                except requests.RequestException:
                    raise
                except Exception as exc:  # a compile error, maybe only a missing import
                    failed[path], last = source, exc
            if len(failed) == len(pending):
                assert last is not None
                raise last
            pending = failed

    def reload(self, force: bool = False) -> bool:
        """Push the bundle again if its files changed (or a previous push failed).

        Raises PolicyUnavailable while OPA cannot be reached with a pending push.
        """
        if self._watch.changed(force):
            try:
                bundle = read_bundle(self.root)
                if bundle.revision != self.wanted.revision:
                    self.wanted = bundle
            except PolicyLoadError as exc:
                self.last_error = str(exc)
                log.error("policy reload failed, keeping revision %s: %s", self.revision, exc)
        if not self._push_enabled:
            changed = self.revision != self.wanted.revision
            self.revision = self.wanted.revision
            return changed
        if self._pushed is self.wanted:
            return False
        try:
            self._push(self.wanted)
        except PolicyLoadError as exc:
            # OPA refused it: keep deciding with what it holds; retry only after the next edit.
            self.last_error = str(exc)
            log.error("OPA rejected policy revision %s, keeping %s: %s", self.wanted.revision, self.revision, exc)
            if self._pushed is not None:
                self.wanted = self._pushed
            return False
        self.revision, self.last_error = self.wanted.revision, ""
        return True

    # -- deciding --------------------------------------------------------------------------

    def evaluate(self, input: Mapping[str, Any]) -> Any:
        """The raw JSON of data.customs.decision from OPA (None if undefined)."""
        import requests

        try:
            body = self._client.query_rule(input_data=dict(input), package_path=DATA_ROOT, rule_name="decision")
        except (requests.RequestException, OSError) as exc:
            raise PolicyUnavailable(f"OPA at {self.url} unreachable: {type(exc).__name__}") from None
        except ValueError:
            raise PolicyUnavailable(f"OPA at {self.url} answered with something that is not JSON") from None
        return body.get("result") if isinstance(body, dict) else None

    def decide(self, input: dict[str, Any]) -> Decision:
        """The Decision for one policy input; PolicyUnavailable if OPA cannot give one."""
        self.reload()
        if self._push_enabled and self._pushed is None:
            raise PolicyUnavailable(f"OPA at {self.url} has no policy yet: {self.last_error}")
        result = self.evaluate(input)
        if result is None and self._push_enabled:
            # OPA restarted and lost what we pushed: push once more and ask again.
            self._pushed = None
            self.reload()
            result = self.evaluate(input)
        if result is None:
            raise PolicyUnavailable(f"OPA at {self.url} returned no decision for data.customs.decision")
        return decision_from_result(result, self.revision)

    def close(self) -> None:
        self._client.close_connection()


def load_engine(config: PolicyConfig) -> PolicyEngine:
    """The engine the config names; PolicyLoadError if its bundle cannot be loaded."""
    if config.engine == "embedded":
        return EmbeddedEngine(config)
    if config.engine == "opa":
        return OpaServerEngine(config)
    raise ValueError(f"unknown policy engine {config.engine!r}")
