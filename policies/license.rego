# License: proprietary or restricted code never leaves for an external endpoint; copyleft text
# is allowed but reported.
package customs.license

import rego.v1

import data.customs.endpoints
import data.customs.residency

findings_cfg := data.customs.findings

repos_cfg := data.customs.repos

counts := c if {
	c := input.findings.counts
	is_object(c)
}

else := {}

repo := lower(input.request.repo) if is_string(input.request.repo)

else := ""

file_paths := [p | some p in input.request.file_paths; is_string(p)]

never_external := {c | some c in object.get(repos_cfg, "never_external", ["restricted"])}

# Repository classes: exact names first, then globs ("/" separated).
repo_classes contains cls if {
	repo != ""
	some pattern, cls in object.get(repos_cfg, "repos", {})
	glob.match(lower(pattern), ["/"], repo)
}

path_classes[p] contains cls if {
	some p in file_paths
	some pattern, cls in object.get(repos_cfg, "paths", {})
	glob.match(pattern, ["/"], p)
}

classes := repo_classes | {cls |
	some p
	some cls in path_classes[p]
}

proprietary_types := {t |
	some t in object.get(findings_cfg, "proprietary_types", [])
	object.get(counts, t, 0) > 0
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

restricted if count(causes) > 0

deny contains {
	"rule": "license.restricted_code_external",
	"message": concat("", [
		"restricted code may not go to external endpoint ", residency.target.name,
		": ", concat("; ", sort(causes)),
	]),
} if {
	restricted
	endpoints.external(residency.target)
}

copyleft(t) if t in object.get(findings_cfg, "copyleft_types", [])

copyleft(t) if {
	some prefix in object.get(findings_cfg, "copyleft_spdx_prefixes", [])
	startswith(t, prefix)
}

copyleft_found := {t |
	some t
	n := counts[t]
	n > 0
	copyleft(t)
}

notes contains {
	"rule": "license.copyleft_reported",
	"message": concat("", ["copyleft license text in the request: ", concat(", ", sort(copyleft_found))]),
} if count(copyleft_found) > 0

actions[t] := object.get(findings_cfg, "copyleft_action", "keep") if some t in copyleft_found
