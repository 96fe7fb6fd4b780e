# The fields of the policy input that rules read, each read once and normalised here (the input
# shape is in README.md). Modules use these rules rather than `input` directly.
#
# Why (regopy, the embedded engine): a field lookup in an input object compares keys one by one,
# and every built-in call copies the evaluation state, so reading a field once and guarding its
# type once keeps a decision cheap. Prefer native operations (==, !=, `some x in`, `not`) over
# built-ins (count, `in`, `|`, object.union) in the other modules for the same reason.
package customs.inputs

import rego.v1

principal_id := id if {
	id := input.principal.id
	is_string(id)
} else := "(unknown)"

# Left as given: it is only compared with team names.
team := input.principal.team

# Roles as declared (non-strings dropped); roles.principal_roles applies default_roles.
declared_roles := [r | some r in input.principal.roles; is_string(r)]

# Regions the principal may send to; empty: no residency restriction.
regions := [r | some r in input.principal.regions; is_string(r)]

provider := p if {
	p := input.request.provider
	is_string(p)
} else := ""

model := m if {
	m := input.request.model
	is_string(m)
} else := ""

# The logical upstream host, lower-cased, without a port.
host := strip_port(lower(h)) if {
	h := input.request.host
	is_string(h)
} else := ""

strip_port(h) := h if startswith(h, "[")

else := split(h, ":")[0]

# The repository, lower-cased ("" if unknown).
repo := lower(r) if {
	r := input.request.repo
	is_string(r)
} else := ""

file_paths := [p | some p in input.request.file_paths; is_string(p)]

# max_tokens the client asked for; undefined if it set none.
max_tokens := m if {
	m := input.request.max_tokens
	is_number(m)
}

# Finding counts by type and by kind.
counts := c if {
	c := input.findings.counts
	is_object(c)
} else := {}

kinds := k if {
	k := input.findings.kinds
	is_object(k)
} else := {}

# What the budget has left (null: no budget applies).
budget := b if {
	b := input.budget
	is_object(b)
} else := {}
