package customs.decision_test

# regopy's `with` rewriting grows exponentially when one test body applies `with` to several
# rules that share dependencies (or to the whole decision object), so each test here checks
# one composed rule with narrow `with` paths; the complete decision document is covered by the pytest decision table,
# on both engines.

import rego.v1

import data.customs

rules(reasons) := {r.rule | some r in reasons}

test_decision_is_defined_for_empty_input if {
	d := customs.decision
	d.allow == true
	d.kind_actions == {"secret": "mask", "pii": "mask", "license": "keep"}
	d.route == null
	d.max_tokens == null
	d.audit_level == "full"
}

test_empty_request_is_allowed if {
	customs.allow
	customs.reasons == []
}


test_private_key_denial_names_the_rule if {
	"redaction.private_key_blocks" in rules(customs.block_reasons) with input.findings.counts as {"PRIVATE_KEY": 1}
}

test_private_key_action_is_block if {
	customs.actions.PRIVATE_KEY == "block"
}

test_blocked_kind_denies if {
	"redaction.secret_blocks" in rules(customs.block_reasons) with input.findings.kinds as {"secret": 1}
		with data.customs.findings.kind_actions as {"secret": "block"}
}

test_unblocked_kind_does_not_deny if {
	count(customs.block_reasons) == 0 with input.findings.kinds as {"secret": 1}
}

test_route_comes_from_residency if {
	r := customs.route with input.principal.regions as ["eu"]
		with input.request as {"provider": "openai", "host": "api.openai.com"}
	r.endpoint == "openai-eu"
}

test_no_route_in_region if {
	customs.route == null with input.principal.regions as ["us"]
		with input.request as {"provider": "openai", "host": "api.openai.com"}
}

test_role_actions_override_license_actions if {
	customs.actions.EMAIL_ADDRESS == "keep" with input.principal.roles as ["support"]
		with input.findings.counts as {"EMAIL_ADDRESS": 1}
		with data.customs.findings.copyleft_types as ["EMAIL_ADDRESS"]
		with data.customs.findings.copyleft_action as "mask"
}

test_budget_cap_reaches_decision if {
	customs.max_tokens == 200 with input.budget.remaining_tokens as 200
}

test_no_budget_no_cap if {
	customs.max_tokens == null with input.budget.remaining_tokens as null
}


test_kind_actions_come_from_data if {
	customs.kind_actions.pii == "keep" with data.customs.findings.kind_actions as {"pii": "keep"}
}

test_kind_actions_keep_defaults_for_unlisted_kinds if {
	customs.kind_actions.secret == "mask" with data.customs.findings.kind_actions as {"pii": "keep"}
}

test_reasons_list_denials_before_notes if {
	rs := customs.reasons with input.principal.roles as ["auditor"]
		with input.request.provider as "anthropic"
		with input.findings.counts as {"GPL_HEADER": 1}
	[r.rule | some r in rs] == ["roles.provider_not_allowed", "license.copyleft_reported"]
}

test_license_actions_fill_types_roles_leave_open if {
	customs.actions["SPDX:GPL-3.0"] == "mask" with input.findings.counts as {"SPDX:GPL-3.0": 1}
		with data.customs.findings.copyleft_action as "mask"
}
