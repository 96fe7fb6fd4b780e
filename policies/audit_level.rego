# What the audit trail keeps for this exchange: "full" (redacted text) or "metadata" only.
package customs.audit_level

import rego.v1

import data.customs.license

audit_cfg := data.customs.audit

default level := "full"

level := "metadata" if metadata_only

metadata_only if object.get(input, ["principal", "team"], "") in object.get(audit_cfg, "metadata_only_teams", [])

metadata_only if {
	some cls in license.classes
	cls in object.get(audit_cfg, "metadata_only_repo_classes", [])
}
