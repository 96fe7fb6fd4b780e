# License: proprietary or restricted code never leaves for an external endpoint; copyleft text
# is allowed but reported.
package customs.license

import rego.v1

import data.customs.inputs
import data.customs.residency

findings_cfg := data.customs.findings

repos_cfg := data.customs.repos

counts := inputs.counts

repo := inputs.repo

file_paths := inputs.file_paths

never_external := {c | some c in classes} if {
	classes := repos_cfg.never_external
} else := {"restricted"}

# Repository classes: of its exact name (repos), and of every glob it matches (repo_patterns).
repo_classes contains cls if {
	cls := repos_cfg.repos[repo]
}

repo_classes contains cls if {
	repo != ""
	some pattern, cls in repos_cfg.repo_patterns
	glob.match(pattern, ["/"], repo)
}

path_classes[p] contains cls if {
	some p in file_paths
	some pattern, cls in repos_cfg.paths
	glob.match(pattern, ["/"], p)
}

classes contains cls if some cls in repo_classes

classes contains cls if {
	some p
	some cls in path_classes[p]
}

proprietary_types := {t |
	some t in findings_cfg.proprietary_types
	counts[t] > 0
}

causes contains concat("", ["repository ", repo, " is classified ", cls]) if {
	some cls in repo_classes
	never_external[cls]
}

causes contains concat("", ["file ", p, " is classified ", cls]) if {
	some p, set in path_classes
	some cls in set
	never_external[cls]
}

causes contains concat(" ", ["the request carries", t]) if some t in proprietary_types

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

copyleft_types := {t | some t in findings_cfg.copyleft_types}

copyleft_found contains t if {
	some t, n in counts
	copyleft_types[t]
	n > 0
}

copyleft_found contains t if {
	some t, n in counts
	some prefix in findings_cfg.copyleft_spdx_prefixes
	startswith(t, prefix)
	n > 0
}

notes contains {
	"rule": "license.copyleft_reported",
	"message": concat("", ["copyleft license text in the request: ", concat(", ", sort(copyleft_found))]),
} if copyleft_found != set()

actions := {t: copyleft_action | some t in copyleft_found}

copyleft_action := a if {
	a := findings_cfg.copyleft_action
} else := "keep"
