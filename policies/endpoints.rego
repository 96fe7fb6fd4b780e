# Which endpoint a request is going to, from the provider data (data.customs.providers).
package customs.endpoints

import rego.v1

import data.customs.inputs
import data.customs.providers

# The name of the endpoint the client asked for: its entry in `hosts`, else the first
# `host_suffixes` entry the host ends with, else `unknown`. Entries naming no endpoint are skipped.
requested_name := name if {
	name := providers.hosts[inputs.host]
	providers.endpoints[name]
} else := name if {
	name := by_suffix[0]
} else := unknown.name

by_suffix := [name |
	inputs.host != ""
	some entry in providers.host_suffixes
	endswith(inputs.host, entry.suffix)
	name := entry.endpoint
	providers.endpoints[name]
]

# The endpoint the client asked for (or `unknown`).
requested := ep if {
	ep := providers.endpoints[requested_name]
} else := unknown

unknown := object.union(unknown_default, ep) if {
	ep := providers.unknown_endpoint
} else := unknown_default

unknown_default := {"name": "unknown", "provider": "", "region": "unknown", "jurisdiction": "unknown", "external": true}

# Data leaves the organisation unless the endpoint says otherwise (`external: false`).
# (Rules, not functions over endpoints: regopy copies the data a function body reads on each call.)
requested_external if not requested.external == false
