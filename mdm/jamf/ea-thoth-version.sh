#!/bin/bash
# Jamf Pro extension attribute "thoth version" (Data Type: String, Input Type: Script).
# Prints exactly one <result>…</result>: the installed thoth version; not-installed; unknown.
# Runs as root at every inventory update and starts no thoth: the version is the one of the
# package installed in /usr/local/thoth (lib/package.json), right after an upgrade too.
# THOTH_MDM_ROOT prefixes the paths; it exists for the tests and is empty on a Mac.

root="${THOTH_MDM_ROOT:-}"
prefix="$root/usr/local/thoth"

result() { printf '<result>%s</result>\n' "$1"; exit 0; }

[ -x "$prefix/bin/thoth" ] || result not-installed
version="$(/usr/bin/sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "$prefix/lib/package.json" 2>/dev/null)"
result "${version:-unknown}"
