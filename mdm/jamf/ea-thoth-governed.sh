#!/bin/bash
# Jamf Pro extension attribute "thoth governed" (Data Type: String, Input Type: Script).
# Prints exactly one <result>…</result>: true when every MCP server of the user is governed; false; unknown; not-installed; no-user; error.
# Runs as root at every inventory update; thoth itself runs as the console user (or, when nobody
# is logged in, the last user), never as root.

thoth="${THOTH_BIN:-/usr/local/bin/thoth}"
field="governed"

result() { printf '<result>%s</result>\n' "$1"; exit 0; }

[ -x "$thoth" ] || result not-installed
user="$(scutil <<< 'show State:/Users/ConsoleUser' | awk '/Name :/ && ! /loginwindow/ { print $3; exit }')"
if [ -z "$user" ] || [ "$user" = "_mbsetupuser" ]; then
  user="$(defaults read /Library/Preferences/com.apple.loginwindow lastUserName 2>/dev/null)"
fi
[ -n "$user" ] || result no-user

out="$(sudo -u "$user" -H "$thoth" health --format jamf-ea --field "$field" 2>/dev/null)"
case "$out" in
  '<result>'*'</result>') printf '%s\n' "$out" ;;
  *) result error ;;
esac
