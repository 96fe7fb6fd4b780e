# Which endpoint a request is going to, from the provider data (data.customs.providers).
package customs.endpoints

import rego.v1

# The logical upstream host, lower-cased, without a port.
host := strip_port(lower(input.request.host)) if is_string(input.request.host)

else := ""

strip_port(h) := h if startswith(h, "[")

else := split(h, ":")[0]

# Indexes into data.customs.providers.endpoints, by how the host matched.
overridden contains i if {
	name := data.customs.providers.hosts_override[host]
	some i
	data.customs.providers.endpoints[i].name == name
}

exact contains i if {
	host != ""
	some i
	data.customs.providers.endpoints[i].host == host
}

exact contains i if {
	host != ""
	some i
	some h in data.customs.providers.endpoints[i].hosts
	h == host
}

by_suffix contains i if {
	host != ""
	some i
	suffix := data.customs.providers.endpoints[i].host_suffix
	endswith(host, suffix)
}

unknown := object.union(
	{"name": "unknown", "provider": "", "region": "unknown", "jurisdiction": "unknown", "external": true},
	object.get(data.customs.providers, "unknown_endpoint", {}),
)

# The endpoint the client asked for (or `unknown`). Overlapping entries: the first one listed.
requested := data.customs.providers.endpoints[min(overridden)] if count(overridden) > 0

else := data.customs.providers.endpoints[min(exact)] if count(exact) > 0

else := data.customs.providers.endpoints[min(by_suffix)] if count(by_suffix) > 0

else := unknown

named(name) := ep if {
	some ep in data.customs.providers.endpoints
	ep.name == name
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
