# License: proprietary or restricted code never leaves for an external endpoint; copyleft text
# is allowed but reported.
package customs.license

import rego.v1

import data.customs.findings
import data.customs.inputs
import data.customs.repos
import data.customs.residency

never_external := {c | some c in listed} if {
	listed := repos.never_external
} else := {"restricted"}

# Repository classes: of its exact name (repos), and of every glob it matches (repo_patterns).
repo_classes contains cls if {
	cls := repos.repos[inputs.repo]
}

repo_classes contains cls if {
	inputs.repo != ""
	some pattern, cls in repos.repo_patterns
	glob.match(pattern, ["/"], inputs.repo)
}

path_classes[p] contains cls if {
	some p in inputs.file_paths
	some pattern, cls in repos.paths
	glob.match(pattern, ["/"], p)
}

classes contains cls if some cls in repo_classes

classes contains cls if {
	some p
	some cls in path_classes[p]
}

causes contains concat("", ["repository ", inputs.repo, " is classified ", cls]) if {
	some cls in repo_classes
	never_external[cls]
}

causes contains concat("", ["file ", p, " is classified ", cls]) if {
	some p, set in path_classes
	some cls in set
	never_external[cls]
}

# Markers of proprietary code (findings.yaml proprietary_types) found in the request.
causes contains concat(" ", ["the request carries", t]) if {
	some t in findings.proprietary_types
	inputs.counts[t] > 0
}

restricted if causes != set()

deny contains {
	"rule": "license.restricted_code_external",
	"message": concat("", [
		"restricted code may not go to external endpoint ", residency.target_name,
		": ", concat("; ", sort(causes)),
	]),
} if {
	restricted
	residency.target_external
}

copyleft_found contains t if {
	some t in findings.copyleft_types
	inputs.counts[t] > 0
}

copyleft_found contains t if {
	some t, n in inputs.counts
	some prefix in findings.copyleft_spdx_prefixes
	startswith(t, prefix)
	n > 0
}

notes contains {
	"rule": "license.copyleft_reported",
	"message": concat("", ["copyleft license text in the request: ", concat(", ", sort(copyleft_found))]),
} if copyleft_found != set()

actions := {t: copyleft_action | some t in copyleft_found}

copyleft_action := a if {
	a := findings.copyleft_action
} else := "keep"
