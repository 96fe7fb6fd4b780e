package customs.audit_level_test

import rego.v1

import data.customs.audit_level

test_full_by_default if {
	audit_level.level == "full" with input.principal as {"id": "a", "team": "payments"}
}

test_metadata_only_team if {
	audit_level.level == "metadata" with input.principal as {"id": "h", "team": "hr"}
}

test_restricted_code_is_metadata_only if {
	audit_level.level == "metadata" with input.principal as {"id": "a", "team": "payments"}
		with input.request.repo as "acme/crown-jewels"
}

test_internal_repo_is_full if {
	audit_level.level == "full" with input.principal as {"id": "a", "team": "payments"}
		with input.request.repo as "acme/payments"
}
