package customs.inputs_test

import rego.v1

import data.customs.inputs

test_host_is_lower_cased_without_port if {
	inputs.host == "api.openai.com" with input.request.host as "API.OpenAI.com:443"
}

test_missing_or_non_string_fields_are_empty if {
	inputs.host == "" with input.request.host as null
	inputs.provider == "" with input.request.provider as 7
	inputs.model == "" with input.request.model as null
	inputs.repo == "" with input.request.repo as null
	inputs.principal_id == "(unknown)" with input.principal.id as null
}

test_repo_is_lower_cased if {
	inputs.repo == "acme/hsm-firmware" with input.request.repo as "Acme/HSM-firmware"
}

test_non_string_roles_regions_and_paths_are_dropped if {
	inputs.declared_roles == ["developer"] with input.principal.roles as ["developer", 5]
	inputs.regions == ["eu"] with input.principal.regions as [null, "eu"]
	inputs.file_paths == ["a.py"] with input.request.file_paths as ["a.py", 1]
}

test_malformed_findings_and_budget_are_empty if {
	inputs.counts == {} with input.findings.counts as ["x"]
	inputs.kinds == {} with input.findings.kinds as null
	inputs.budget == {} with input.budget as null
}

test_max_tokens_undefined_when_unset if {
	not inputs.max_tokens with input.request.max_tokens as null
	inputs.max_tokens == 64 with input.request.max_tokens as 64
}
