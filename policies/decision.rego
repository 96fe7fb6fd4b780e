# The one entry point: data.customs.decision composes residency, roles, license, audit level and
# the budget guard into the Decision the proxy applies. Always defined.
package customs

import rego.v1

import data.customs.audit_level
import data.customs.budget_guard
import data.customs.findings
import data.customs.inputs
import data.customs.license
import data.customs.residency
import data.customs.roles

default_kind_actions := {"secret": "mask", "pii": "mask", "license": "keep"}

# The action for a finding whose type has none of its own: findings.yaml kind_actions, else the
# default for its kind.
kind_actions := object.union(default_kind_actions, configured) if {
	configured := findings.kind_actions
} else := default_kind_actions

# License actions (copyleft types) never override what roles decided for a type.
actions := roles.actions if {
	license.actions == {}
} else := object.union(license.actions, roles.actions)

# Finding types and kinds whose action is "block" refuse the request.
block_reasons contains {
	"rule": concat("", ["redaction.", lower(t), "_blocks"]),
	"message": concat("", ["the request contains ", t, ", which may not be sent anywhere"]),
} if {
	some t
	n := inputs.counts[t]
	actions[t] == "block"
	n > 0
}

block_reasons contains {
	"rule": concat("", ["redaction.", k, "_blocks"]),
	"message": concat("", ["the request contains ", k, " findings, which may not be sent anywhere"]),
} if {
	some k
	kind_actions[k] == "block"
	inputs.kinds[k] > 0
}

denials contains d if some d in residency.deny

denials contains d if some d in roles.deny

denials contains d if some d in license.deny

denials contains d if some d in budget_guard.deny

denials contains d if some d in block_reasons

notes contains n if some n in residency.notes

notes contains n if some n in license.notes

notes contains n if some n in budget_guard.notes

allow := denials == set()

# Denials first, then notes, each in sorted order.
reasons := [] if {
	denials == set()
	notes == set()
} else := [r | some group in [sort(denials), sort(notes)]; some r in group]

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
	"region": residency.target_region,
}
