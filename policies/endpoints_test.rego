package customs.endpoints_test

import rego.v1

import data.customs.endpoints

test_exact_host_resolves_endpoint if {
	endpoints.requested_name == "openai-eu" with input.request.host as "eu.api.openai.com"
	endpoints.requested.region == "eu" with input.request.host as "eu.api.openai.com"
}

test_host_is_case_insensitive_and_port_is_ignored if {
	endpoints.requested_name == "anthropic-us" with input.request.host as "API.Anthropic.com:443"
}

test_host_aliases_resolve_endpoint if {
	endpoints.requested_name == "copilot" with input.request.host as "copilot-proxy.githubusercontent.com"
	endpoints.requested_name == "local-vllm" with input.request.host as "localhost:11434"
}

test_host_suffix_resolves_endpoint if {
	endpoints.requested_name == "copilot" with input.request.host as "api.business.githubcopilot.com"
}

test_suffix_needs_a_dot_boundary if {
	endpoints.requested_name == "unknown" with input.request.host as "evilgithubcopilot.com"
}

test_first_listed_suffix_wins if {
	endpoints.requested_name == "openai-us" with input.request.host as "a.example.com"
		with data.customs.providers.host_suffixes as [
			{"suffix": ".example.com", "endpoint": "openai-us"},
			{"suffix": ".a.example.com", "endpoint": "openai-eu"},
			{"suffix": "a.example.com", "endpoint": "openai-eu"},
		]
}

test_unknown_host_is_external_with_unknown_region if {
	endpoints.requested_name == "unknown" with input.request.host as "llm.example.net"
	ep := endpoints.requested with input.request.host as "llm.example.net"
	ep.region == "unknown"
	endpoints.requested_external with input.request.host as "llm.example.net"
}

test_unknown_endpoint_defaults_without_data if {
	ep := endpoints.requested with input.request.host as "llm.example.net"
		with data.customs.providers.unknown_endpoint as {"jurisdiction": "mars"}
	ep.region == "unknown"
	ep.jurisdiction == "mars"
	ep.external == true
}

test_missing_host_is_unknown if {
	endpoints.requested_name == "unknown" with input.request.provider as "openai"
}

test_bracketed_ipv6_host_keeps_its_port if {
	endpoints.requested_name == "unknown" with input.request.host as "[::1]:8000"
}

test_hosts_entry_pins_a_host if {
	endpoints.requested_name == "openai-eu" with input.request.host as "api.openai.com"
		with data.customs.providers.hosts as {"api.openai.com": "openai-eu"}
}

test_host_naming_a_missing_endpoint_is_unknown if {
	endpoints.requested_name == "unknown" with input.request.host as "api.openai.com"
		with data.customs.providers.hosts as {"api.openai.com": "no-such-endpoint"}
}

test_self_hosted_endpoint_is_internal if {
	endpoints.requested_name == "local-vllm" with input.request.host as "127.0.0.1"
	not endpoints.requested_external with input.request.host as "127.0.0.1"
}

test_endpoint_without_external_is_external if {
	endpoints.requested_external with input.request.host as "api.openai.com"
		with data.customs.providers.endpoints as {"openai-us": {"region": "us"}}
}

# Data checks: every host, suffix and in-region route names an endpoint, and every route target
# has an upstream to send to.
test_hosts_name_endpoints if {
	every host, name in data.customs.providers.hosts {
		data.customs.providers.endpoints[name]
	}
	every entry in data.customs.providers.host_suffixes {
		data.customs.providers.endpoints[entry.endpoint]
	}
}

test_in_region_targets_have_upstreams if {
	every provider, by_region in data.customs.providers.in_region {
		every region, name in by_region {
			is_string(data.customs.providers.endpoints[name].upstream)
		}
	}
}
