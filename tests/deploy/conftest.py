"""Shared fixtures for the deploy tests."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def chdb_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Apply the single-node and the stripped cluster DDL in one chDB (own process) and report."""
    path = tmp_path_factory.mktemp("chdb-ddl")
    out = subprocess.run([sys.executable, "-m", "tests.deploy.chdb_ddl_check", str(path / "data")], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)
