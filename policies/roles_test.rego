package customs.roles_test

import rego.v1

import data.customs.roles

openai := {"provider": "openai", "host": "api.openai.com", "model": "gpt-4o"}

vllm := {"provider": "compat", "host": "127.0.0.1", "model": "qwen2.5-coder"}

rules(denials) := {d.rule | some d in denials}

test_developer_may_use_any_provider if {
	roles.provider_granted with input.principal.roles as ["developer"] with input.request.provider as "anthropic"
}

test_role_without_provider_grant_is_not_granted if {
	not roles.provider_granted with input.principal.roles as ["auditor"] with input.request.provider as "anthropic"
}

test_role_with_provider_grant_is_allowed if {
	roles.provider_granted with input.principal.roles as ["auditor"] with input.request.provider as "openai"
}

test_unknown_role_is_not_granted_anything if {
	not roles.provider_granted with input.principal.roles as ["visitor"] with input.request.provider as "openai"
}

test_principal_without_roles_gets_default_roles if {
	roles.principal_roles == ["developer"] with input.principal as {"id": "x", "roles": []}
}

test_contractor_denied_external_provider if {
	req := openai
	denials := roles.deny with input.principal as {"id": "d", "team": "contractors", "roles": ["contractor"]}
		with input.request as req
	"roles.self_hosted_only" in rules(denials)
}

test_contractor_allowed_self_hosted_endpoint if {
	req := vllm
	count(roles.deny) == 0 with input.principal as {"id": "d", "team": "contractors", "roles": ["contractor"]}
		with input.request as req
}

test_contractor_restriction_wins_over_other_roles if {
	roles.self_hosted_only with input.principal.roles as ["developer", "contractor"]
}

test_developer_is_not_self_hosted_only if {
	not roles.self_hosted_only with input.principal.roles as ["developer"]
}

test_restricted_model_refused_outside_listed_teams if {
	roles.model_refusals == {"gpt-4.5*": ["platform"]} with input.principal.team as "payments"
		with input.request.model as "gpt-4.5-preview"
}

test_unrestricted_model_is_not_refused if {
	count(roles.model_refusals) == 0 with input.principal.team as "payments" with input.request.model as "gpt-4o"
}

test_restricted_model_allowed_for_listed_team if {
	count(roles.model_refusals) == 0 with input.principal.team as "platform"
		with input.request.model as "gpt-4.5-preview"
}

test_model_pattern_exact_and_prefix if {
	roles.model_matches("gpt-4o", "gpt-4o")
	roles.model_matches("gpt-4.5*", "gpt-4.5-preview")
	not roles.model_matches("gpt-4.5*", "gpt-4o")
	not roles.model_matches("gpt-4o", "gpt-4o-mini")
}

test_private_key_blocks_for_everyone if {
	roles.actions.PRIVATE_KEY == "block" with input.principal as {"id": "c", "roles": ["support"]}
	roles.actions.PRIVATE_KEY == "block" with input.principal as {"id": "a", "roles": ["developer"]}
}

test_support_keeps_email_and_phone if {
	acts := roles.actions with input.principal as {"id": "c", "team": "support", "roles": ["support"]}
	acts.EMAIL_ADDRESS == "keep"
	acts.PHONE_NUMBER == "keep"
}

test_other_roles_mask_email if {
	acts := roles.actions with input.principal as {"id": "a", "team": "payments", "roles": ["developer"]}
	acts.EMAIL_ADDRESS == "mask"
	acts.PHONE_NUMBER == "mask"
}

test_always_block_wins_over_keep if {
	acts := roles.actions with input.principal as {"id": "c", "roles": ["support"]}
		with data.customs.findings.always_block as ["EMAIL_ADDRESS"]
	acts.EMAIL_ADDRESS == "block"
}

test_unlisted_keep_and_self_hosted_default_to_nothing if {
	acts := roles.actions with input.principal as {"id": "x", "roles": ["r"]}
		with data.customs.permissions.roles as {"r": {"providers": ["*"]}, "s": {"providers": ["*"], "keep": ["EMAIL_ADDRESS"]}}
	acts.EMAIL_ADDRESS == "mask"
	not roles.self_hosted_only with input.principal as {"id": "x", "roles": ["r"]}
		with data.customs.permissions.roles as {"r": {"providers": ["*"]}}
}
