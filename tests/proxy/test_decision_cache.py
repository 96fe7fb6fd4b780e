"""The decision cache in front of the real embedded engine: hits, misses and policy edits."""
from __future__ import annotations

import time
from pathlib import Path

from proxy.decision_cache import CachedPolicy
from proxy.policy import EmbeddedEngine, PolicyConfig

DECISION = """package customs

import rego.v1

default decision := {"allow": true}

decision := {"allow": false, "reasons": [{"rule": "test.deny", "message": "no"}]} if {
\tinput.principal.id == "mallory"
}
"""


def policy_dir(tmp: Path, extra_rule: str = "") -> Path:
    (tmp / "decision.rego").write_text(DECISION + extra_rule)
    return tmp


def ask(user: str, now: str, estimate: int = 10) -> dict:
    return {"principal": {"id": user}, "request": {"model": "m", "estimated_input_tokens": estimate, "client": "c"},
            "findings": {"counts": {}}, "budget": {}, "now": now}


def engine(root: Path) -> CachedPolicy:
    return CachedPolicy(EmbeddedEngine(PolicyConfig(dir=str(root), reload_interval_s=0.0)), root)


def test_inputs_that_differ_only_in_volatile_fields_share_one_evaluation(tmp_path: Path) -> None:
    cache = engine(policy_dir(tmp_path))
    first = cache.decide(ask("alice", "2026-11-26T10:00:00Z", 10))
    second = cache.decide(ask("alice", "2026-11-26T10:00:01Z", 999))
    assert first == second and first.allow
    assert (cache.misses, cache.hits) == (1, 1)
    assert not cache.decide(ask("mallory", "2026-11-26T10:00:02Z")).allow
    assert cache.misses == 2


def test_a_policy_that_reads_a_volatile_field_keeps_it_in_the_key(tmp_path: Path) -> None:
    rule = '\nlate if input.now > "2026-11-26T12:00:00Z"\n'
    cache = engine(policy_dir(tmp_path, rule))
    cache.decide(ask("alice", "2026-11-26T10:00:00Z"))
    cache.decide(ask("alice", "2026-11-26T13:00:00Z"))
    assert cache.misses == 2 and cache.hits == 0


def test_an_edited_policy_is_never_answered_from_the_old_revision(tmp_path: Path) -> None:
    root = policy_dir(tmp_path)
    cache = engine(root)
    assert cache.decide(ask("alice", "t1")).allow
    time.sleep(0.01)
    (root / "decision.rego").write_text(DECISION.replace('"mallory"', '"alice"'))
    decision = cache.decide(ask("alice", "t2"))
    assert not decision.allow and decision.revision == cache.revision
