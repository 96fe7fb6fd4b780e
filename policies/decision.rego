# The one entry point: data.customs.decision composes residency, roles, license, audit level and
# the budget guard into the Decision the proxy applies. Always defined.
package customs

import rego.v1

import data.customs.audit_level
import data.customs.budget_guard
import data.customs.license
import data.customs.residency
import data.customs.roles

default_kind_actions := {"secret": "mask", "pii": "mask", "license": "keep"}

kind_actions := object.union(default_kind_actions, object.get(data.customs.findings, "kind_actions", {}))

counts := c if {
	c := input.findings.counts
	is_object(c)
}

else := {}

kinds := k if {
	k := input.findings.kinds
	is_object(k)
}

else := {}

# License actions (copyleft types) never override what roles decided for a type.
actions := object.union(license.actions, roles.actions)

blocked_types := {t |
	some t
	n := counts[t]
	n > 0
	actions[t] == "block"
}

blocked_kinds := {k |
	some k
	n := kinds[k]
	n > 0
	kind_actions[k] == "block"
}

block_reasons contains {
	"rule": concat("", ["redaction.", lower(t), "_blocks"]),
	"message": concat("", ["the request contains ", t, ", which may not be sent anywhere"]),
} if some t in blocked_types

block_reasons contains {
	"rule": concat("", ["redaction.", k, "_blocks"]),
	"message": concat("", ["the request contains ", k, " findings, which may not be sent anywhere"]),
} if some k in blocked_kinds

denials := ((((residency.deny | roles.deny) | license.deny) | budget_guard.deny) | block_reasons)

notes := (residency.notes | license.notes) | budget_guard.notes

allow := count(denials) == 0

# Denials first, then notes (each set in its sorted order).
reasons := array.concat([r | some r in denials], [r | some r in notes])

# Set even when the request is denied: a denied request goes nowhere, and the audit shows where
# it would have gone.
route := r if {
	r := residency.route
}

else := null

max_tokens := m if {
	m := budget_guard.max_tokens
}

else := null

decision := {
	"allow": allow,
	"reasons": reasons,
	"actions": actions,
	"kind_actions": kind_actions,
	"route": route,
	"max_tokens": max_tokens,
	"audit_level": audit_level.level,
	"region": object.get(residency.target, "region", ""),
}
