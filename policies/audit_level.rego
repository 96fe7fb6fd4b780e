# What the audit trail keeps for this exchange: "full" (redacted text) or "metadata" only.
package customs.audit_level

import rego.v1

import data.customs.audit
import data.customs.inputs
import data.customs.license

default level := "full"

level := "metadata" if metadata_only

metadata_only if {
	some team in audit.metadata_only_teams
	team == inputs.team
}

metadata_only if {
	some cls in audit.metadata_only_repo_classes
	license.classes[cls]
}
