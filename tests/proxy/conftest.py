from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proxy.harness import Customs, FakeUpstream, start_customs, start_fake_upstream, stop


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    up = start_fake_upstream(tmp_path_factory.mktemp("upstream"))
    yield up
    stop(up.proc)


@pytest.fixture(scope="session")
def eu_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    up = start_fake_upstream(tmp_path_factory.mktemp("eu-upstream"))
    yield up
    stop(up.proc)


@pytest.fixture(scope="session")
def customs(tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream, eu_upstream: FakeUpstream) -> Iterator[Customs]:
    """One `customs run` process shared by the proxy tests (startup loads the detectors once)."""
    c = start_customs(tmp_path_factory.mktemp("customs"), upstream, eu_upstream=eu_upstream)
    yield c
    stop(c.proc)


@pytest.fixture()
def ca_bundle(customs: Customs) -> Path:
    return customs.ca_cert
