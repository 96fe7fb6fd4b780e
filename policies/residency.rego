# Data residency: a principal may only send to endpoints in its allowed regions; route to an
# in-region endpoint of the same provider when the data has one, deny otherwise.
package customs.residency

import rego.v1

import data.customs.endpoints
import data.customs.inputs
import data.customs.providers

# Internal (self-hosted, on-prem) endpoints keep data in the organisation: residency is moot.
out_of_region if {
	inputs.regions != []
	endpoints.requested_external
	every r in inputs.regions {
		r != endpoints.requested.region
	}
}

# In-region endpoints configured for this provider that can take the request (they have an
# upstream), in the principal's order of regions.
in_region_targets := [name |
	by_region := providers.in_region[inputs.provider]
	some r in inputs.regions
	name := by_region[r]
	is_string(providers.endpoints[name].upstream)
]

# Where the request goes instead: the first in-region target.
route := {"endpoint": name, "upstream": ep.upstream, "region": object.get(ep, "region", "")} if {
	out_of_region
	name := in_region_targets[0]
	ep := providers.endpoints[name]
}

# The endpoint the request will actually reach, its name and region.
target := ep if {
	ep := providers.endpoints[route.endpoint]
} else := endpoints.requested

target_name := name if {
	name := route.endpoint
} else := endpoints.requested_name

target_region := r if {
	r := target.region
} else := ""

# Whether the target lets data leave the organisation (anything but `external: false`), and
# whether it is self-hosted.
target_external if not target.external == false

target_self_hosted if target.self_hosted == true

deny contains {
	"rule": "residency.region_not_allowed",
	"message": concat("", [
		"endpoint ", endpoints.requested_name, " is in region ", endpoints.requested.region, "; principal ", inputs.principal_id,
		" may only send to ", concat(", ", inputs.regions), " and no in-region endpoint is configured",
	]),
} if {
	out_of_region
	in_region_targets == []
}

notes contains {
	"rule": "residency.routed",
	"message": concat("", [
		"routed from ", endpoints.requested_name, " (", endpoints.requested.region, ") to in-region endpoint ",
		route.endpoint, " (", route.region, ")",
	]),
} if route
