"""The same decision table on every engine: embedded regopy and the OPA REST path."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from proxy.decision import Decision
from proxy.policy import PolicyEngine

ALICE = {"id": "alice", "team": "payments", "roles": ["developer"], "regions": ["us", "eu"], "attributes": {}, "key_id": "k1"}
BOB = {"id": "bob", "team": "platform", "roles": ["developer", "admin"], "regions": ["us", "eu"], "attributes": {}, "key_id": "k2"}
CAROL = {"id": "carol", "team": "support", "roles": ["developer", "support"], "regions": ["eu"], "attributes": {}, "key_id": "k3"}
DAVE = {"id": "dave", "team": "contractors", "roles": ["contractor"], "regions": ["eu"], "attributes": {}, "key_id": "k4"}
ERIN = {"id": "erin", "team": "compliance", "roles": ["auditor"], "regions": ["eu"], "attributes": {}, "key_id": "k5"}
HANK = {"id": "hank", "team": "hr", "roles": ["developer"], "regions": [], "attributes": {}, "key_id": "k6"}
NOBODY = {"id": "anon", "team": "", "roles": [], "regions": [], "attributes": {}, "key_id": ""}

OPENAI = {"provider": "openai", "endpoint": "chat", "model": "gpt-4o", "host": "api.openai.com"}
ANTHROPIC = {"provider": "anthropic", "endpoint": "messages", "model": "claude-sonnet-4-5", "host": "api.anthropic.com"}
AZURE_WEU = {"provider": "azure", "endpoint": "chat", "model": "gpt-4o", "host": "customs-weu.openai.azure.com"}
AZURE_EUS = {"provider": "azure", "endpoint": "chat", "model": "gpt-4o", "host": "customs-eus.openai.azure.com"}
GEMINI = {"provider": "gemini", "endpoint": "generate", "model": "gemini-2.5-pro", "host": "generativelanguage.googleapis.com"}
VERTEX_EU = {"provider": "gemini", "endpoint": "generate", "model": "gemini-2.5-pro", "host": "europe-west4-aiplatform.googleapis.com"}
COPILOT = {"provider": "copilot", "endpoint": "fim", "model": "gpt-4o-copilot", "host": "proxy.individual.githubcopilot.com"}
VLLM = {"provider": "compat", "endpoint": "chat", "model": "qwen2.5-coder", "host": "127.0.0.1"}
UNKNOWN_HOST = {"provider": "compat", "endpoint": "chat", "model": "llama", "host": "llm.example.net"}


def make_input(principal: dict[str, Any], request: dict[str, Any], counts: dict[str, int] | None = None,
               kinds: dict[str, int] | None = None, budget: dict[str, Any] | None = None) -> dict[str, Any]:
    """A policy input exactly as the proxy builds it."""
    req = {"provider": "", "endpoint": "chat", "model": "", "host": "", "path": "/v1/chat/completions",
           "via": "gateway", "client": "pytest", "stream": False, "max_tokens": 1024,
           "estimated_input_tokens": 100, "repo": None, "file_paths": []}
    req.update(request)
    return {
        "principal": copy.deepcopy(principal),
        "request": req,
        "findings": {"counts": dict(counts or {}), "kinds": {"secret": 0, "pii": 0, "license": 0, **(kinds or {})}},
        "budget": budget or {"remaining_tokens": None, "remaining_usd": None},
        "now": "2026-11-26T13:00:00Z",
    }


@dataclass(frozen=True)
class Case:
    id: str
    input: dict[str, Any]
    allow: bool
    rules: frozenset[str] = frozenset()  # reason rules that must be present
    absent: frozenset[str] = frozenset()  # reason rules that must not be present
    route: str | None = None
    region: str | None = None
    max_tokens: int | None = None
    audit_level: str = "full"
    actions: dict[str, str] = field(default_factory=dict)  # subset of actions expected


def case(id: str, inp: dict[str, Any], allow: bool, rules: tuple[str, ...] = (), absent: tuple[str, ...] = (),
         **kw: Any) -> Case:
    return Case(id, inp, allow, frozenset(rules), frozenset(absent), **kw)


def with_req(base: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**base, **extra}


CASES = [
    # -- residency: allow, route, deny -------------------------------------------------------
    case("us_eu_principal_openai_us_allowed", make_input(ALICE, OPENAI), True, region="us"),
    case("us_eu_principal_anthropic_us_allowed", make_input(ALICE, ANTHROPIC), True, region="us"),
    case("eu_principal_openai_us_routed_to_eu", make_input(CAROL, OPENAI), True, ("residency.routed",),
         route="openai-eu", region="eu"),
    case("eu_principal_openai_eu_direct", make_input(CAROL, with_req(OPENAI, host="eu.api.openai.com")), True,
         absent=("residency.routed",), region="eu"),
    case("eu_principal_anthropic_denied", make_input(CAROL, ANTHROPIC), False, ("residency.region_not_allowed",)),
    case("eu_principal_azure_weu_allowed", make_input(CAROL, AZURE_WEU), True, region="eu"),
    case("eu_principal_azure_eus_routed_to_weu", make_input(CAROL, AZURE_EUS), True, ("residency.routed",),
         route="azure-weu", region="eu"),
    case("eu_principal_gemini_routed_to_vertex_eu", make_input(CAROL, GEMINI), True, ("residency.routed",),
         route="vertex-eu", region="eu"),
    case("eu_principal_vertex_eu_allowed", make_input(CAROL, VERTEX_EU), True, region="eu"),
    case("eu_principal_copilot_denied", make_input(CAROL, COPILOT), False, ("residency.region_not_allowed",)),
    case("us_principal_copilot_allowed", make_input(ALICE, COPILOT), True, region="us"),
    case("eu_principal_self_hosted_allowed", make_input(CAROL, VLLM), True, region="onprem"),
    case("eu_principal_unknown_host_denied", make_input(CAROL, UNKNOWN_HOST), False, ("residency.region_not_allowed",)),
    case("unrestricted_principal_unknown_host_allowed", make_input(HANK, UNKNOWN_HOST), True,
         absent=("residency.region_not_allowed",), audit_level="metadata"),
    case("host_with_port_resolves", make_input(CAROL, with_req(OPENAI, host="api.openai.com:443")), True,
         ("residency.routed",), route="openai-eu"),
    case("apac_only_principal_openai_denied", make_input({**ALICE, "regions": ["apac"]}, OPENAI), False,
         ("residency.region_not_allowed",)),
    case("principal_region_order_picks_route", make_input({**ALICE, "regions": ["apac", "eu"]}, OPENAI), True,
         ("residency.routed",), route="openai-eu"),
    # -- roles ---------------------------------------------------------------------------------
    case("contractor_external_denied", make_input(DAVE, OPENAI), False, ("roles.self_hosted_only",),
         route="openai-eu"),
    case("contractor_self_hosted_allowed", make_input(DAVE, VLLM), True, region="onprem"),
    case("contractor_routed_endpoint_still_external", make_input(DAVE, AZURE_EUS), False, ("roles.self_hosted_only",),
         route="azure-weu"),
    case("auditor_granted_provider_allowed", make_input(ERIN, AZURE_WEU), True),
    case("auditor_ungranted_provider_denied", make_input(ERIN, VERTEX_EU), False, ("roles.provider_not_allowed",)),
    case("roleless_principal_gets_default_role", make_input(NOBODY, ANTHROPIC), True),
    case("unknown_role_denied", make_input({**ALICE, "roles": ["visitor"]}, OPENAI), False, ("roles.provider_not_allowed",)),
    case("restricted_model_other_team_denied", make_input(ALICE, with_req(OPENAI, model="gpt-4.5-preview")), False,
         ("roles.model_restricted",)),
    case("restricted_model_listed_team_allowed", make_input(BOB, with_req(OPENAI, model="gpt-4.5-preview")), True),
    case("restricted_model_second_team_allowed",
         make_input(ALICE, with_req(ANTHROPIC, model="claude-opus-4-1")), True),
    case("restricted_model_unlisted_team_denied",
         make_input(HANK, with_req(ANTHROPIC, model="claude-opus-4-1")), False, ("roles.model_restricted",),
         audit_level="metadata"),
    case("unrestricted_model_allowed", make_input(ALICE, with_req(OPENAI, model="gpt-4o-mini")), True),
    # -- per-role finding actions ----------------------------------------------------------------
    case("developer_email_masked", make_input(ALICE, OPENAI, {"EMAIL_ADDRESS": 2}, {"pii": 2}), True,
         actions={"EMAIL_ADDRESS": "mask", "PHONE_NUMBER": "mask"}),
    case("support_email_kept", make_input(CAROL, VLLM, {"EMAIL_ADDRESS": 2}, {"pii": 2}), True,
         actions={"EMAIL_ADDRESS": "keep", "PHONE_NUMBER": "keep"}),
    case("support_phone_kept_on_routed_request", make_input(CAROL, OPENAI, {"PHONE_NUMBER": 1}, {"pii": 1}), True,
         ("residency.routed",), route="openai-eu", actions={"PHONE_NUMBER": "keep"}),
    case("admin_email_masked", make_input(BOB, OPENAI, {"EMAIL_ADDRESS": 1}, {"pii": 1}), True,
         actions={"EMAIL_ADDRESS": "mask"}),
    case("aws_key_masked_by_kind", make_input(ALICE, OPENAI, {"AWS_ACCESS_KEY": 1}, {"secret": 1}), True,
         absent=("redaction.aws_access_key_blocks",)),
    # -- private key block -------------------------------------------------------------------------
    case("private_key_blocks_developer", make_input(ALICE, OPENAI, {"PRIVATE_KEY": 1}, {"secret": 1}), False,
         ("redaction.private_key_blocks",), actions={"PRIVATE_KEY": "block"}),
    case("private_key_blocks_support", make_input(CAROL, VLLM, {"PRIVATE_KEY": 1}, {"secret": 1}), False,
         ("redaction.private_key_blocks",), actions={"PRIVATE_KEY": "block"}),
    case("private_key_blocks_admin_on_self_hosted", make_input(BOB, VLLM, {"PRIVATE_KEY": 3}, {"secret": 3}), False,
         ("redaction.private_key_blocks",)),
    case("pgp_private_key_blocks", make_input(ALICE, OPENAI, {"PGP_PRIVATE_KEY": 1}, {"secret": 1}), False,
         ("redaction.pgp_private_key_blocks",)),
    case("private_key_action_present_without_finding", make_input(ALICE, OPENAI), True,
         actions={"PRIVATE_KEY": "block", "PUTTY_PRIVATE_KEY": "block"}),
    # -- license -------------------------------------------------------------------------------------
    case("restricted_repo_external_denied", make_input(ALICE, with_req(OPENAI, repo="acme/crown-jewels")), False,
         ("license.restricted_code_external",), audit_level="metadata"),
    case("restricted_repo_glob_case_insensitive_denied",
         make_input(ALICE, with_req(COPILOT, repo="ACME/hsm-firmware")), False,
         ("license.restricted_code_external",), audit_level="metadata"),
    case("restricted_repo_self_hosted_allowed", make_input(ALICE, with_req(VLLM, repo="acme/crown-jewels")), True,
         absent=("license.restricted_code_external",), audit_level="metadata"),
    case("internal_repo_external_allowed", make_input(ALICE, with_req(OPENAI, repo="acme/payments")), True),
    case("restricted_path_glob_denied",
         make_input(ALICE, with_req(OPENAI, file_paths=["src/app.py", "third_party/licensed/codec.c"])), False,
         ("license.restricted_code_external",), audit_level="metadata"),
    case("restricted_path_extension_glob_denied", make_input(ALICE, with_req(OPENAI, file_paths=["deploy/tls/server.pem"])),
         False, ("license.restricted_code_external",), audit_level="metadata"),
    case("ordinary_paths_allowed", make_input(ALICE, with_req(OPENAI, file_paths=["src/licensing.py", "README.md"])), True),
    case("proprietary_marker_external_denied",
         make_input(ALICE, OPENAI, {"PROPRIETARY_NOTICE": 1}, {"license": 1}), False, ("license.restricted_code_external",)),
    case("proprietary_marker_self_hosted_allowed",
         make_input(ALICE, VLLM, {"PROPRIETARY_NOTICE": 1}, {"license": 1}), True),
    case("copyleft_spdx_reported_and_allowed",
         make_input(ALICE, OPENAI, {"SPDX:GPL-3.0-only": 1}, {"license": 1}), True, ("license.copyleft_reported",),
         actions={"SPDX:GPL-3.0-only": "keep"}),
    case("agpl_header_reported", make_input(ALICE, OPENAI, {"AGPL_HEADER": 1}, {"license": 1}), True,
         ("license.copyleft_reported",)),
    case("permissive_spdx_not_reported", make_input(ALICE, OPENAI, {"SPDX:MIT": 1}, {"license": 1}), True,
         absent=("license.copyleft_reported",)),
    case("copyleft_and_proprietary_denied_with_note",
         make_input(ALICE, OPENAI, {"SPDX:GPL-2.0-only": 1, "PROPRIETARY_NOTICE": 1}, {"license": 2}), False,
         ("license.restricted_code_external", "license.copyleft_reported")),
    # -- audit level ------------------------------------------------------------------------------------
    case("metadata_only_team", make_input(HANK, OPENAI), True, audit_level="metadata"),
    case("ordinary_team_full_audit", make_input(ALICE, OPENAI), True, audit_level="full"),
    # -- budget ------------------------------------------------------------------------------------------
    case("budget_caps_max_tokens", make_input(ALICE, OPENAI, budget={"remaining_tokens": 300, "remaining_usd": None}),
         True, ("budget.max_tokens_capped",), max_tokens=300),
    case("budget_above_request_no_cap", make_input(ALICE, OPENAI, budget={"remaining_tokens": 50000, "remaining_usd": 12.5}),
         True, absent=("budget.max_tokens_capped",), max_tokens=None),
    case("budget_caps_when_client_sets_none",
         make_input(ALICE, with_req(OPENAI, max_tokens=None), budget={"remaining_tokens": 4000, "remaining_usd": None}),
         True, max_tokens=4000),
    case("budget_tokens_exhausted", make_input(ALICE, OPENAI, budget={"remaining_tokens": 0, "remaining_usd": None}),
         False, ("budget.exhausted",)),
    case("budget_usd_exhausted", make_input(ALICE, OPENAI, budget={"remaining_tokens": None, "remaining_usd": 0}),
         False, ("budget.exhausted",)),
    case("budget_cap_on_routed_request", make_input(CAROL, OPENAI, budget={"remaining_tokens": 10, "remaining_usd": 1.0}),
         True, ("residency.routed", "budget.max_tokens_capped"), route="openai-eu", max_tokens=10),
    # -- several denials at once ---------------------------------------------------------------------------
    case("contractor_with_private_key_two_denials",
         make_input(DAVE, OPENAI, {"PRIVATE_KEY": 1}, {"secret": 1}), False,
         ("roles.self_hosted_only", "redaction.private_key_blocks"), route="openai-eu"),
    case("empty_input_still_decides", {}, True),
]


def _check(decision: Decision, c: Case) -> None:
    rules = {r.rule for r in decision.reasons}
    assert decision.allow is c.allow, (decision.allow, decision.reasons)
    assert c.rules <= rules, rules
    assert not (c.absent & rules), rules
    assert (decision.route.endpoint if decision.route else None) == c.route
    if c.region is not None:
        assert decision.region == c.region
    assert decision.max_tokens == c.max_tokens
    assert decision.audit_level == c.audit_level
    for t, a in c.actions.items():
        assert decision.actions.get(t) == a, (t, decision.actions)
    if not decision.allow:
        first_note = next((i for i, r in enumerate(decision.reasons)
                           if r.rule in ("residency.routed", "license.copyleft_reported", "budget.max_tokens_capped")), None)
        if first_note is not None:  # denials come first, so the client sees why
            assert decision.reasons[0].rule not in ("residency.routed", "license.copyleft_reported",
                                                    "budget.max_tokens_capped")
    for r in decision.reasons:
        assert r.message and '"' not in r.message  # human text, no garbled quoting


def test_decision_table_has_enough_cases() -> None:
    assert len(CASES) >= 50
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_decision_table(engine: PolicyEngine, c: Case) -> None:
    decision = engine.decide(c.input)
    _check(decision, c)
    assert decision.revision == engine.revision and len(decision.revision) == 12


def test_routed_decision_carries_upstream_and_region(engine: PolicyEngine) -> None:
    d = engine.decide(make_input(CAROL, OPENAI))
    assert d.route is not None
    assert (d.route.endpoint, d.route.upstream, d.route.region) == ("openai-eu", "https://eu.api.openai.com", "eu")


def test_denial_message_names_the_endpoint_and_regions(engine: PolicyEngine) -> None:
    d = engine.decide(make_input(CAROL, ANTHROPIC))
    msg = next(r.message for r in d.reasons if r.rule == "residency.region_not_allowed")
    assert "anthropic-us" in msg and "eu" in msg and "carol" in msg


def test_license_denial_names_the_restricted_path(engine: PolicyEngine) -> None:
    d = engine.decide(make_input(ALICE, with_req(OPENAI, file_paths=["third_party/licensed/codec.c"])))
    msg = next(r.message for r in d.reasons if r.rule == "license.restricted_code_external")
    assert "third_party/licensed/codec.c" in msg and "openai-us" in msg


def test_quotes_in_input_strings_survive(engine: PolicyEngine) -> None:
    d = engine.decide(make_input(CAROL, with_req(ANTHROPIC), ) | {"principal": {**CAROL, "id": 'c"a\\rol'}})
    msg = next(r.message for r in d.reasons if r.rule == "residency.region_not_allowed")
    assert 'c"a\\rol' in msg


def test_python_values_in_the_input_decide_like_their_json(engine: PolicyEngine) -> None:
    """Tuples, int enums, non-ASCII text and ints beyond 64 bits reach policy as JSON would."""
    import enum
    import json

    class Budget(enum.IntEnum):
        LEFT = 300

    raw = make_input({**CAROL, "id": "caról", "regions": ("eu",)}, with_req(ANTHROPIC, max_tokens=None),
                     budget={"remaining_tokens": Budget.LEFT, "remaining_usd": None})
    d = engine.decide(raw)
    assert d == engine.decide(json.loads(json.dumps(raw)))
    assert d.max_tokens == 300
    assert "caról" in next(r.message for r in d.reasons if r.rule == "residency.region_not_allowed")
    huge = make_input(ALICE, with_req(OPENAI, max_tokens=2**70))
    assert engine.decide(huge) == engine.decide(json.loads(json.dumps(huge)))


def test_engines_agree_on_every_case(engine: PolicyEngine, request: pytest.FixtureRequest) -> None:
    """Beyond the table's assertions: the whole Decision is identical to the embedded engine's."""
    from proxy.policy import EmbeddedEngine, PolicyConfig

    from .conftest import POLICIES

    reference = EmbeddedEngine(PolicyConfig(dir=str(POLICIES)))
    for c in CASES:
        a, b = reference.decide(c.input), engine.decide(c.input)
        assert (a.allow, set(a.reasons), a.actions, a.kind_actions, a.route, a.max_tokens, a.audit_level, a.region) == \
               (b.allow, set(b.reasons), b.actions, b.kind_actions, b.route, b.max_tokens, b.audit_level, b.region), c.id
