package customs.license_test

import rego.v1

import data.customs.license

openai := {"provider": "openai", "host": "api.openai.com", "model": "gpt-4o"}

vllm := {"provider": "compat", "host": "127.0.0.1", "model": "qwen2.5-coder"}

rules(denials) := {d.rule | some d in denials}

test_restricted_repo_may_not_go_external if {
	req := object.union(openai, {"repo": "acme/crown-jewels"})
	"license.restricted_code_external" in rules(license.deny) with input.request as req
}

test_repo_names_match_case_insensitively_and_by_glob if {
	license.restricted with input.request.repo as "Acme/HSM-firmware"
}

test_restricted_repo_may_go_to_internal_endpoint if {
	req := object.union(vllm, {"repo": "acme/crown-jewels"})
	count(license.deny) == 0 with input.request as req
}

test_unrestricted_repo_is_not_restricted if {
	not license.restricted with input.request.repo as "acme/payments"
}

test_restricted_path_glob_may_not_go_external if {
	req := object.union(openai, {"file_paths": ["src/app.py", "third_party/licensed/codec.c"]})
	denials := license.deny with input.request as req
	some d in denials
	d.rule == "license.restricted_code_external"
	contains(d.message, "third_party/licensed/codec.c")
}

test_path_glob_matches_from_root if {
	license.restricted with input.request.file_paths as ["vendor/secret-sdk/include/sdk.h"]
}

test_unrelated_path_is_not_restricted if {
	not license.restricted with input.request.file_paths as ["src/licensing.py"]
}

test_proprietary_marker_restricts if {
	license.restricted with input.findings.counts as {"PROPRIETARY_NOTICE": 1}
}

test_proprietary_marker_with_zero_count_is_ignored if {
	not license.restricted with input.findings.counts as {"PROPRIETARY_NOTICE": 0}
}

test_copyleft_spdx_is_reported_not_restricted if {
	notes := license.notes with input.findings.counts as {"SPDX:GPL-3.0-only": 1}
	"license.copyleft_reported" in rules(notes)
	not license.restricted with input.findings.counts as {"SPDX:GPL-3.0-only": 1}
}

test_copyleft_header_is_reported if {
	notes := license.notes with input.findings.counts as {"AGPL_HEADER": 2}
	"license.copyleft_reported" in rules(notes)
}

test_permissive_spdx_is_not_reported if {
	count(license.notes) == 0 with input.findings.counts as {"SPDX:MIT": 1}
}

test_copyleft_action_comes_from_data if {
	license.actions == {"SPDX:GPL-2.0-or-later": "mask"} with input.findings.counts as {"SPDX:GPL-2.0-or-later": 1}
		with data.customs.findings.copyleft_action as "mask"
}

test_restricted_classes_are_reported if {
	req := object.union(openai, {"repo": "acme/crown-jewels"})
	license.classes == {"restricted"} with input.request as req
}

test_exact_repo_and_matching_patterns_both_classify if {
	license.repo_classes == {"internal", "public"} with input.request.repo as "acme/payments"
		with data.customs.repos.repo_patterns as {"acme/*": "public"}
}

# Data check: exact repository names and repository patterns are written lower-case (repo
# names are lower-cased before matching).
test_repo_names_and_patterns_are_lower_case if {
	every name, _ in data.customs.repos.repos {
		lower(name) == name
	}
	every pattern, _ in data.customs.repos.repo_patterns {
		lower(pattern) == pattern
	}
}
