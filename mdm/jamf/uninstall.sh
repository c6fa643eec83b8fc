#!/bin/bash
# thoth: Jamf Pro uninstall policy script. Restores every user's MCP client configs (and Claude
# Code's managed-mcp.json) with `thoth unwrap-config`, and only when all of them succeeded removes
# thoth: /usr/local/thoth, the /usr/local/bin/thoth launcher, the package receipt and the state
# file. A wrapped config whose thoth is gone would stop those servers from starting, so any
# failure stops here, removes nothing, and exits 1; fix that profile (the log names it) and run
# the policy again.
#
# Runs as root with a minimal PATH; thoth runs as each user for that user's files (sudo -u), and
# as root for root's managed-mcp.json. Every home under /Users is a profile (Shared and Guest
# excepted). Written for the bash 3.2 that ships with macOS.
#
# Exit codes: 0 removed, or not installed; 1 an unwrap failed: nothing was removed.
# Log: /Library/Logs/thoth/jamf-uninstall.log, and the policy log in Jamf Pro.
#
# THOTH_MDM_ROOT prefixes every path this script touches; it exists for the tests and is empty on a Mac.

root="${THOTH_MDM_ROOT:-}"
prefix="$root/usr/local/thoth"
thoth="$prefix/bin/thoth"
launcher="$root/usr/local/bin/thoth"
claude_managed="$root/Library/Application Support/ClaudeCode/managed-mcp.json"
state_file="$root/Library/Application Support/thoth/jamf-state"
log_dir="$root/Library/Logs/thoth"
log_file="$log_dir/jamf-uninstall.log"

/bin/mkdir -p "$log_dir" 2>/dev/null
log() {
  printf 'thoth-uninstall: %s\n' "$*"
  printf '%s thoth-uninstall: %s\n' "$(/bin/date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" >> "$log_file" 2>/dev/null
}

if [ ! -x "$thoth" ]; then
  log "thoth is not installed at $prefix: nothing to do"
  exit 0
fi

# Every profile: user name and home, or "root" for managed-mcp.json.
profiles=()
for home in "$root"/Users/*; do
  [ -d "$home" ] || continue
  user="${home##*/}"
  case "$user" in Shared | Guest) continue ;; esac
  if id -u "$user" > /dev/null 2>&1; then profiles+=("$user"); else log "$home: no user $user, skipped"; fi
done

# Root writes managed-mcp.json only when it is root's for real: not a symlink, and neither it nor
# its directory writable by anyone else.
only_root_can_write() {
  [ ! -L "$1" ] && [ -z "$(find "$1" "${1%/*}" -maxdepth 0 \( ! -user "$(id -u)" -o -perm -g+w -o -perm -o+w \) -print 2>/dev/null)" ]
}
unwrap() { # <profile> [--dry-run]
  if [ "$1" = root ]; then
    "$thoth" unwrap-config --client claude-code "$claude_managed" ${2:+"$2"} 2>&1
  else
    sudo -u "$1" -H "$thoth" unwrap-config --all ${2:+"$2"} 2>&1
  fi
}
if [ -f "$claude_managed" ]; then
  if only_root_can_write "$claude_managed"; then
    profiles+=(root)
  else
    log "error: $claude_managed or its directory is a symlink or writable by others than root: not touched; thoth was NOT removed"
    exit 1
  fi
fi

# First every profile without writing (exit 10: something to restore), so that a config thoth
# cannot read stops the uninstall before any other config was changed; then for real.
failed=""
for phase in --dry-run ''; do
  for profile in ${profiles[@]+"${profiles[@]}"}; do
    output="$(unwrap "$profile" "$phase")"
    status=$?
    log "$profile: unwrap-config${phase:+ $phase} exit $status"
    [ -z "$output" ] || [ -n "$phase" ] || log "$output"
    case "$status:$phase" in
      0:* | 10:--dry-run) ;;
      *) [ -z "$output" ] || [ -z "$phase" ] || log "$output"; failed="$failed $profile" ;;
    esac
  done
  if [ -n "$failed" ]; then
    log "error: unwrap-config failed for:$failed; thoth was NOT removed (the configs still need it)"
    exit 1
  fi
done

# The launcher the package's postinstall made, and nothing else of that name.
if [ -L "$launcher" ] && [ "$(readlink "$launcher")" = /usr/local/thoth/bin/thoth ]; then
  /bin/rm -f "$launcher"
fi
/bin/rm -rf "$prefix" "$state_file"
pkgutil --forget io.thoth.agent > /dev/null 2>&1
log "removed $prefix"
exit 0
