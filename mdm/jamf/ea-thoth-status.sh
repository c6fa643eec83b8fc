#!/bin/bash
# Jamf Pro extension attribute "thoth status" (Data Type: String, Input Type: Script).
# Prints exactly one <result>…</result>: healthy, degraded, unhealthy or unknown, as thoth health last said; unknown (the policy has not run yet); not-installed.
# Runs as root at every inventory update and starts no thoth: it reads the state file that
# thoth-policy.sh writes after each run (the one source of truth), so inventory stays cheap.
# THOTH_MDM_ROOT prefixes the paths; it exists for the tests and is empty on a Mac.

root="${THOTH_MDM_ROOT:-}"
field="status"
state="$root/Library/Application Support/thoth/jamf-state"

result() { printf '<result>%s</result>\n' "$1"; exit 0; }

[ -x "$root/usr/local/thoth/bin/thoth" ] || result not-installed
[ -f "$state" ] || result unknown
value="$(/usr/bin/awk -F= -v key="$field" '$1 == key { print substr($0, length(key) + 2); exit }' "$state")"
result "${value:-unknown}"
