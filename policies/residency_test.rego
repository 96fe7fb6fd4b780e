package customs.residency_test

import rego.v1

import data.customs.residency

eu_only_fixture := {"id": "carol", "team": "support", "roles": ["support"], "regions": ["eu"]}

us_eu_fixture := {"id": "alice", "team": "payments", "roles": ["developer"], "regions": ["us", "eu"]}

unrestricted_fixture := {"id": "ops", "team": "platform", "roles": ["developer"], "regions": []}

openai_us_fixture := {"provider": "openai", "host": "api.openai.com", "model": "gpt-4o"}

anthropic_us_fixture := {"provider": "anthropic", "host": "api.anthropic.com", "model": "claude-sonnet-4-5"}

test_region_in_allowed_list_is_not_restricted if {
	us_eu := us_eu_fixture
	openai_us := openai_us_fixture
	not residency.out_of_region with input.principal as us_eu with input.request as openai_us
	count(residency.deny) == 0 with input.principal as us_eu with input.request as openai_us
}

test_no_region_list_means_no_restriction if {
	unrestricted := unrestricted_fixture
	anthropic_us := anthropic_us_fixture
	not residency.out_of_region with input.principal as unrestricted with input.request as anthropic_us
}

test_out_of_region_routes_to_in_region_endpoint if {
	eu_only := eu_only_fixture
	openai_us := openai_us_fixture
	r := residency.route with input.principal as eu_only with input.request as openai_us
	r == {"endpoint": "openai-eu", "upstream": "https://eu.api.openai.com", "region": "eu"}
}

test_routed_request_reports_a_note_and_no_denial if {
	eu_only := eu_only_fixture
	openai_us := openai_us_fixture
	notes := residency.notes with input.principal as eu_only with input.request as openai_us
	some n in notes
	n.rule == "residency.routed"
	count(residency.deny) == 0 with input.principal as eu_only with input.request as openai_us
}

test_routed_target_is_the_in_region_endpoint if {
	eu_only := eu_only_fixture
	openai_us := openai_us_fixture
	residency.target_name == "openai-eu" with input.principal as eu_only with input.request as openai_us
	residency.target_region == "eu" with input.principal as eu_only with input.request as openai_us
}

test_out_of_region_without_in_region_endpoint_is_denied if {
	eu_only := eu_only_fixture
	anthropic_us := anthropic_us_fixture
	denials := residency.deny with input.principal as eu_only with input.request as anthropic_us
	some d in denials
	d.rule == "residency.region_not_allowed"
	not residency.route with input.principal as eu_only with input.request as anthropic_us
}

test_internal_endpoint_is_exempt_from_residency if {
	eu_only := eu_only_fixture
	not residency.out_of_region with input.principal as eu_only
		with input.request as {"provider": "compat", "host": "127.0.0.1"}
}

test_unknown_host_is_denied_for_region_restricted_principal if {
	eu_only := eu_only_fixture
	denials := residency.deny with input.principal as eu_only
		with input.request as {"provider": "compat", "host": "llm.example.net"}
	some d in denials
	d.rule == "residency.region_not_allowed"
}

test_route_follows_principal_region_order if {
	openai_us := openai_us_fixture
	r := residency.route with input.principal as {"id": "x", "regions": ["apac", "eu"]}
		with input.request as openai_us
	r.endpoint == "openai-eu"
}

test_in_region_entry_naming_missing_endpoint_denies if {
	eu_only := eu_only_fixture
	openai_us := openai_us_fixture
	denials := residency.deny with input.principal as eu_only with input.request as openai_us
		with data.customs.providers.in_region as {"openai": {"eu": "no-such-endpoint"}}
	some d in denials
	d.rule == "residency.region_not_allowed"
}
