# Roles: which providers and models a principal may use, and how its findings are handled.
package customs.roles

import rego.v1

import data.customs.endpoints
import data.customs.residency

permissions := data.customs.permissions

declared_roles := [r | some r in input.principal.roles; is_string(r)]

principal_roles := declared_roles if count(declared_roles) > 0

else := object.get(permissions, "default_roles", [])

team := input.principal.team if is_string(input.principal.team)

else := ""

provider := input.request.provider if is_string(input.request.provider)

else := ""

model := m if {
	m := input.request.model
	is_string(m)
}

else := ""

role_grants(role) := object.get(permissions, ["roles", role], {})

provider_granted if {
	some role in principal_roles
	some p in object.get(role_grants(role), "providers", [])
	p in {"*", provider}
}

deny contains {
	"rule": "roles.provider_not_allowed",
	"message": concat("", ["roles ", concat(", ", principal_roles), " may not use provider ", provider]),
} if not provider_granted

self_hosted_only if {
	some role in principal_roles
	role_grants(role).self_hosted_only == true
}

deny contains {
	"rule": "roles.self_hosted_only",
	"message": concat("", ["role may only use self-hosted endpoints; ", residency.target.name, " is not one"]),
} if {
	self_hosted_only
	not endpoints.self_hosted(residency.target)
}

# A trailing * in a model pattern is a prefix match.
model_matches(pattern, name) if pattern == name

model_matches(pattern, name) if {
	endswith(pattern, "*")
	startswith(name, trim_suffix(pattern, "*"))
}

# Restricted model patterns matching the model that the principal's team is not listed for.
model_refusals[pattern] := teams if {
	some pattern, teams in object.get(data.customs.providers, ["models", "restricted"], {})
	model_matches(pattern, model)
	not team_listed(teams)
}

deny contains {
	"rule": "roles.model_restricted",
	"message": concat("", ["model ", model, " is restricted to teams ", concat(", ", teams)]),
} if {
	some teams in model_refusals
}

team_listed(teams) if {
	some t in teams
	t == team
}

always_block := {t | some t in object.get(data.customs.findings, "always_block", [])}

# Types this principal's roles send unmasked.
kept := {t |
	some role in principal_roles
	some t in object.get(role_grants(role), "keep", [])
}

# Types some role may keep: everybody else gets them masked.
role_managed := {t |
	some grants in object.get(permissions, "roles", {})
	some t in object.get(grants, "keep", [])
}

actions[t] := "block" if some t in always_block

actions[t] := "keep" if {
	some t in kept
	not always_block[t]
}

actions[t] := "mask" if {
	some t in role_managed
	not kept[t]
	not always_block[t]
}
