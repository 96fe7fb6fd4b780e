# Which endpoint a request is going to, from the provider data (data.customs.providers).
package customs.endpoints

import rego.v1

# The logical upstream host, lower-cased, without a port.
host := strip_port(lower(input.request.host)) if is_string(input.request.host)

else := ""

strip_port(h) := h if startswith(h, "[")

else := split(h, ":")[0]

endpoint_list := data.customs.providers.endpoints

# The endpoint the client asked for (or `unknown`): hosts_override, exact host, host_aliases,
# host_suffix, in that order. Overlapping entries: the first one listed.
requested := ep if {
	ep := named(data.customs.providers.hosts_override[host])
}

else := endpoint_list[min(exact)] if count(exact) > 0

else := ep if {
	ep := named(data.customs.providers.host_aliases[host])
}

else := endpoint_list[min(by_suffix)] if count(by_suffix) > 0

else := unknown

# Indexes into the endpoint list whose host is the request's.
exact contains i if {
	host != ""
	some i
	endpoint_list[i].host == host
}

by_suffix contains i if {
	host != ""
	some i
	suffix := endpoint_list[i].host_suffix
	endswith(host, suffix)
}

unknown := object.union(
	{"name": "unknown", "provider": "", "region": "unknown", "jurisdiction": "unknown", "external": true},
	object.get(data.customs.providers, "unknown_endpoint", {}),
)

named(name) := endpoint_list[i] if {
	some i
	endpoint_list[i].name == name
}

# Data leaves the organisation unless the endpoint says otherwise.
external(ep) if object.get(ep, "external", true) != false

self_hosted(ep) if object.get(ep, "self_hosted", false) == true

# scheme://host[:port] to send a request routed to `ep`.
upstream(ep) := ep.upstream if is_string(ep.upstream)

else := concat("", ["https://", ep.host])

route_to(name) := {"endpoint": name, "upstream": upstream(ep), "region": object.get(ep, "region", "")} if {
	ep := named(name)
}
