"""License markers: SPDX identifiers, copyleft header text, proprietary notices."""
from __future__ import annotations

import re

SPDX = re.compile(r"SPDX-License-Identifier:\s*(?P<id>[A-Za-z0-9.+\-]+(?:\s+(?:WITH|AND|OR)\s+[A-Za-z0-9.+\-]+)*)")
GPL_TEXT = re.compile(
    r"(?i)GNU (?:Affero |Lesser |Library )?General Public License"
    r"|either version [23](?:\.\d)? of the License"
    r"|Licensed under the (?:A|L)?GPL"
)
PROPRIETARY = re.compile(
    r"(?i)proprietary and confidential"
    r"|confidential and proprietary"
    r"|unauthori[sz]ed copying of this file[\s\S]{0,200}?strictly prohibited"
    r"|all rights reserved[\s\S]{0,120}?confidential"
    r"|confidential[\s\S]{0,120}?all rights reserved"
)
# Literal/regex anchors for the fast pass (caseless).
ANCHORS = ("SPDX-License-Identifier", "General Public License", "either version", "GPL",
           "proprietary", "unauthori", "rights reserved", "confidential")


def gpl_type(matched: str) -> str:
    """Name the copyleft family a header sentence belongs to."""
    low = matched.lower()
    if "affero" in low or "agpl" in low:
        return "AGPL_HEADER"
    if "lesser" in low or "library" in low or "lgpl" in low:
        return "LGPL_HEADER"
    return "GPL_HEADER"
