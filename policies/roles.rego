# Roles: which providers and models a principal may use, and how its findings are handled.
package customs.roles

import rego.v1

import data.customs.inputs
import data.customs.residency

permissions := data.customs.permissions

role_table := data.customs.permissions.roles

principal_roles := r if {
	r := inputs.declared_roles
	r != []
} else := object.get(permissions, "default_roles", [])

team := inputs.team

provider := inputs.provider

model := inputs.model

# What the principal's roles grant: the permissions.yaml entry of each role it has.
grants := [g | some role in principal_roles; g := role_table[role]]

provider_granted if {
	some g in grants
	some p in g.providers
	p == "*"
}

provider_granted if {
	some g in grants
	some p in g.providers
	p == provider
}

deny contains {
	"rule": "roles.provider_not_allowed",
	"message": concat("", ["roles ", concat(", ", principal_roles), " may not use provider ", provider]),
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
	endswith(pattern, "*")
	startswith(name, trim_suffix(pattern, "*"))
}

# Restricted model patterns matching the model that the principal's team is not listed for.
model_refusals[pattern] := teams if {
	some pattern, teams in data.customs.providers.models.restricted
	model_matches(pattern, model)
	not team in teams
}

deny contains {
	"rule": "roles.model_restricted",
	"message": concat("", ["model ", model, " is restricted to teams ", concat(", ", teams)]),
} if {
	some teams in model_refusals
}

always_block := {t | some t in data.customs.findings.always_block}

# Types this principal's roles send unmasked.
kept := {t |
	some g in grants
	some t in g.keep
}

# Types some role may keep: everybody else gets them masked.
role_managed := {t |
	some g in role_table
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
