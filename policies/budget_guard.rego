# Budget guard: cap max_tokens at what the budget has left; refuse when nothing is left.
# input.budget is filled by the proxy's ledger; null values mean no budget applies.
package customs.budget_guard

import rego.v1

import data.customs.inputs

remaining_tokens := r if {
	r := inputs.budget.remaining_tokens
	is_number(r)
}

remaining_usd := r if {
	r := inputs.budget.remaining_usd
	is_number(r)
}

# Which budget ran out and when it resets, when the ledger says so (input.budget.budget/resets_at).
budget_name := n if {
	n := inputs.budget.budget
	is_string(n)
} else := "for this principal"

resets := concat("", ["; it resets at ", r]) if {
	r := inputs.budget.resets_at
	is_string(r)
} else := ""

deny contains {
	"rule": "budget.exhausted",
	"message": concat("", ["the token budget ", budget_name, " is exhausted", resets]),
} if remaining_tokens <= 0

deny contains {
	"rule": "budget.exhausted",
	"message": concat("", ["the spending budget ", budget_name, " is exhausted", resets]),
} if remaining_usd <= 0

max_tokens := floor(remaining_tokens) if {
	remaining_tokens > 0
	not inputs.max_tokens
}

max_tokens := floor(remaining_tokens) if {
	remaining_tokens > 0
	remaining_tokens < inputs.max_tokens
}

notes contains {
	"rule": "budget.max_tokens_capped",
	"message": concat("", ["max_tokens capped at ", format_int(max_tokens, 10), ", what the budget has left"]),
} if max_tokens
