# Roles: which providers and models a principal may use, and how its findings are handled.
package customs.roles

import rego.v1

import data.customs.findings
import data.customs.inputs
import data.customs.permissions
import data.customs.providers
import data.customs.residency

principal_roles := r if {
	r := inputs.declared_roles
	r != []
} else := object.get(permissions, "default_roles", [])

# What the principal's roles grant: the permissions.yaml entry of each role it has.
grants := [g | some role in principal_roles; g := permissions.roles[role]]

provider_granted if {
	some g in grants
	some p in g.providers
	p == "*"
}

provider_granted if {
	some g in grants
	some p in g.providers
	p == inputs.provider
}

deny contains {
	"rule": "roles.provider_not_allowed",
	"message": concat("", ["roles ", concat(", ", principal_roles), " may not use provider ", inputs.provider]),
} if not provider_granted

self_hosted_only if {
	some g in grants
	g.self_hosted_only == true
}

deny contains {
	"rule": "roles.self_hosted_only",
	"message": concat("", ["role may only use self-hosted endpoints; ", residency.target_name, " is not one"]),
} if {
	self_hosted_only
	not residency.target_self_hosted
}

# A trailing * in a model pattern is a prefix match.
model_matches(pattern, name) if pattern == name

model_matches(pattern, name) if {
	prefix := trim_suffix(pattern, "*")
	prefix != pattern
	startswith(name, prefix)
}

# Restricted model patterns matching the model that the principal's team is not listed for.
model_refusals[pattern] := teams if {
	some pattern, teams in providers.models.restricted
	model_matches(pattern, inputs.model)
	not inputs.team in teams
}

deny contains {
	"rule": "roles.model_restricted",
	"message": concat("", ["model ", inputs.model, " is restricted to teams ", concat(", ", teams)]),
} if {
	some teams in model_refusals
}

always_block := {t | some t in findings.always_block}

# Types this principal's roles send unmasked.
kept := {t |
	some g in grants
	some t in g.keep
}

# Types some role may keep: everybody else gets them masked.
role_managed := {t |
	some g in permissions.roles
	some t in g.keep
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
