"""Engines under test: embedded regopy, the OPA engine against the regopy-backed OPA REST
server on loopback, and a real OPA when OPA_URL is set."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.opa_rest import OpaRestServer
from proxy.policy import EmbeddedEngine, OpaServerEngine, PolicyConfig, PolicyEngine

POLICIES = Path(__file__).resolve().parents[2] / "policies"

ENGINES = ["embedded", "opa-rest"] + (["opa-real"] if os.environ.get("OPA_URL") else [])


@pytest.fixture(scope="session")
def opa_rest_server() -> Iterator[OpaRestServer]:
    server = OpaRestServer("127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[PolicyEngine]:
    kind = request.param
    if kind == "embedded":
        eng: PolicyEngine = EmbeddedEngine(PolicyConfig(dir=str(POLICIES)))
    elif kind == "opa-rest":
        server = request.getfixturevalue("opa_rest_server")
        eng = OpaServerEngine(PolicyConfig(engine="opa", dir=str(POLICIES), opa_url=server.url))
    else:
        eng = OpaServerEngine(PolicyConfig(engine="opa", dir=str(POLICIES), opa_url=os.environ["OPA_URL"]))
    yield eng
    eng.close()
