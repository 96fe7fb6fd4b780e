# Data residency: a principal may only send to endpoints in its allowed regions; route to an
# in-region endpoint of the same provider when the data has one, deny otherwise.
package customs.residency

import rego.v1

import data.customs.endpoints

allowed_regions := [r | some r in input.principal.regions; is_string(r)]

principal_id := input.principal.id if is_string(input.principal.id)

else := "(unknown)"

requested := endpoints.requested

# Internal (self-hosted, on-prem) endpoints keep data in the organisation: residency is moot.
out_of_region if {
	count(allowed_regions) > 0
	endpoints.external(requested)
	not region_allowed
}

region_allowed if {
	some r in allowed_regions
	r == requested.region
}

# In-region endpoints configured for this provider, in the principal's order of regions.
in_region_targets := [name |
	some r in allowed_regions
	name := data.customs.providers.in_region[input.request.provider][r]
	endpoints.named(name)
]

route := endpoints.route_to(in_region_targets[0]) if {
	out_of_region
	count(in_region_targets) > 0
}

# The endpoint the request will actually reach.
target := t if {
	t := endpoints.named(route.endpoint)
}

else := requested

deny contains {
	"rule": "residency.region_not_allowed",
	"message": concat("", [
		"endpoint ", requested.name, " is in region ", requested.region, "; principal ", principal_id,
		" may only send to ", concat(", ", allowed_regions), " and no in-region endpoint is configured",
	]),
} if {
	out_of_region
	count(in_region_targets) == 0
}

notes contains {
	"rule": "residency.routed",
	"message": concat("", [
		"routed from ", requested.name, " (", requested.region, ") to in-region endpoint ",
		route.endpoint, " (", route.region, ")",
	]),
} if route
