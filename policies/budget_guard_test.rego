package customs.budget_guard_test

import rego.v1

import data.customs.budget_guard

rules(set) := {d.rule | some d in set}

test_no_budget_no_cap_no_denial if {
	not budget_guard.max_tokens with input.budget as {"remaining_tokens": null, "remaining_usd": null}
	count(budget_guard.deny) == 0 with input.budget as {"remaining_tokens": null, "remaining_usd": null}
}

test_remaining_below_requested_caps_max_tokens if {
	budget_guard.max_tokens == 300 with input.budget.remaining_tokens as 300 with input.request.max_tokens as 1024
}

test_remaining_above_requested_does_not_cap if {
	not budget_guard.max_tokens with input.budget.remaining_tokens as 5000 with input.request.max_tokens as 1024
}

test_no_requested_max_tokens_caps_at_remaining if {
	budget_guard.max_tokens == 800 with input.budget.remaining_tokens as 800 with input.request.max_tokens as null
}

test_fractional_remaining_is_floored if {
	budget_guard.max_tokens == 99 with input.budget.remaining_tokens as 99.7
}

test_cap_is_reported_as_a_note if {
	"budget.max_tokens_capped" in rules(budget_guard.notes) with input.budget.remaining_tokens as 10
}

test_exhausted_tokens_are_denied if {
	"budget.exhausted" in rules(budget_guard.deny) with input.budget.remaining_tokens as 0
	not budget_guard.max_tokens with input.budget.remaining_tokens as 0
}

test_exhausted_spend_is_denied if {
	"budget.exhausted" in rules(budget_guard.deny) with input.budget.remaining_usd as 0
}

test_exhausted_message_names_the_budget_and_its_reset if {
	some d in budget_guard.deny with input.budget.remaining_tokens as 0
		with input.budget.budget as "team-payments-daily"
		with input.budget.resets_at as "2026-11-27T00:00:00Z"
	d.message == "the token budget team-payments-daily is exhausted; it resets at 2026-11-27T00:00:00Z"
}
