package customs.endpoints_test

import rego.v1

import data.customs.endpoints

test_exact_host_resolves_endpoint if {
	endpoints.requested.name == "openai-eu" with input.request.host as "eu.api.openai.com"
}

test_host_is_case_insensitive_and_port_is_ignored if {
	endpoints.requested.name == "anthropic-us" with input.request.host as "API.Anthropic.com:443"
}

test_host_aliases_resolve_endpoint if {
	endpoints.requested.name == "copilot" with input.request.host as "copilot-proxy.githubusercontent.com"
}

test_host_suffix_resolves_endpoint if {
	endpoints.requested.name == "copilot" with input.request.host as "api.business.githubcopilot.com"
}

test_unknown_host_is_external_with_unknown_region if {
	ep := endpoints.requested with input.request.host as "llm.example.net"
	ep.name == "unknown"
	ep.region == "unknown"
	endpoints.external(ep)
}

test_missing_host_is_unknown if {
	endpoints.requested.name == "unknown" with input.request.provider as "openai"
}

test_hosts_override_wins if {
	endpoints.requested.name == "openai-eu" with input.request.host as "api.openai.com"
		with data.customs.providers.hosts_override as {"api.openai.com": "openai-eu"}
}

test_self_hosted_endpoint_is_internal if {
	ep := endpoints.requested with input.request.host as "127.0.0.1"
	ep.name == "local-vllm"
	not endpoints.external(ep)
	endpoints.self_hosted(ep)
}

test_route_to_uses_configured_upstream if {
	endpoints.route_to("openai-eu") == {"endpoint": "openai-eu", "upstream": "https://eu.api.openai.com", "region": "eu"}
}

test_route_to_defaults_to_https_host if {
	endpoints.route_to("anthropic-us").upstream == "https://api.anthropic.com"
}

test_route_to_unknown_name_is_undefined if {
	not endpoints.route_to("nowhere")
}
