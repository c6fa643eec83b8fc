#!/bin/bash
# thoth: Jamf Pro policy script. Verifies the installed thoth (or runs the install policy), puts
# every MCP server of the console user's clients behind `thoth run` (wrap-config), records the
# result in a state file the extension attributes read, and updates inventory only when that
# result changed. Triggers: Login, and Recurring Check-in once every day (see mdm/README.md).
#
# Runs as root (Jamf policies do) with a minimal PATH, so thoth and jamf are called by absolute
# path. thoth runs AS THE CONSOLE USER (`launchctl asuser <uid> sudo -u <user> -H`) for the user's
# files, and as root only for files root owns: Claude Code's managed-mcp.json.
# Written for the bash 3.2 that ships with macOS.
#
# Settings come from one place. When the configuration profile (domain io.thoth.agent) sets
# THOTH_TENANT_ID, THOTH_ENFORCEMENT_MODE, THOTH_ENV or THOTH_FLEET_ID, the matching parameter is
# ignored (and logged): thoth itself reads the profile, and a value written into each entry too
# would win over the profile and drift from it for ever.
#
# Parameters (Settings > Computer Management > Scripts > Options > Parameter Labels):
#   $4  Tenant ID                  e.g. acme; required unless the profile sets THOTH_TENANT_ID
#   $5  Enforcement mode           progressive | step_up | block | observe; empty: the profile's, else thoth's default
#   $6  Minimum thoth version      e.g. 0.2.0 (empty: the profile's THOTH_MIN_VERSION, else any version)
#   $7  Environment                prod | staging | dev (empty: the profile's, else prod)
#   $8  Fleet ID                   optional
#   $9  Install trigger            custom event of the policy that installs the thoth package, run when
#                                  thoth is missing or too old (empty: never install from here)
#   $10 thoth path                 default /usr/local/thoth/bin/thoth (what the package installs)
#   $11 Clients                    all (default) | claude-desktop | claude-code | cursor | vscode | windsurf
#
# Exit codes: 0 governed, nothing to govern, or nobody logged in (the policy runs again at the next
#             login or check-in); 1 bad parameters or settings; 2 thoth missing or older than the
#             minimum even after the install trigger; 3 wrap-config failed for a client or for
#             managed-mcp.json (the others were still wrapped).
# Log: /Library/Logs/thoth/jamf-policy.log, and the policy log in Jamf Pro.
#
# THOTH_MDM_ROOT prefixes every path this script touches; it exists for the tests and is empty on a Mac.

root="${THOTH_MDM_ROOT:-}"
tenant="${4:-}"
mode="${5:-}"
min_version="${6:-}"
environment="${7:-}"
fleet="${8:-}"
install_trigger="${9:-}"
thoth="${10:-$root/usr/local/thoth/bin/thoth}"
clients="${11:-all}"

jamf="$root/usr/local/jamf/bin/jamf"
managed_prefs="$root/Library/Managed Preferences"
claude_managed="$root/Library/Application Support/ClaudeCode/managed-mcp.json"
state_dir="$root/Library/Application Support/thoth"
state_file="$state_dir/jamf-state"
log_dir="$root/Library/Logs/thoth"
log_file="$log_dir/jamf-policy.log"

/bin/mkdir -p "$log_dir" 2>/dev/null
log() {
  printf 'thoth-policy: %s\n' "$*"
  printf '%s thoth-policy: %s\n' "$(/bin/date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" >> "$log_file" 2>/dev/null
}
fail() { log "error: $2"; exit "$1"; }

case "$mode" in '' | progressive | step_up | block | observe) ;; *) fail 1 "parameter 5 (enforcement mode) must be progressive, step_up, block or observe, not \"$mode\"" ;; esac
case "$environment" in '' | prod | staging | dev) ;; *) fail 1 "parameter 7 (environment) must be prod, staging or dev, not \"$environment\"" ;; esac
case "$clients" in all | claude-desktop | claude-code | cursor | vscode | windsurf) ;; *) fail 1 "parameter 11 (clients) is not a client thoth knows: \"$clients\"" ;; esac
case "$thoth" in /*) ;; *) fail 1 "parameter 10 (thoth path) must be absolute, not \"$thoth\"" ;; esac

# The console user, as Apple's own tools see it; loginwindow means nobody is logged in, and
# _mbsetupuser is Setup Assistant.
user="$(scutil <<< 'show State:/Users/ConsoleUser' | awk '/Name :/ && ! /loginwindow/ { print $3; exit }')"
[ "$user" = "_mbsetupuser" ] && user=""

# A setting the configuration profile sets: device level, then the console user's level.
profile_sets() {
  defaults read "$managed_prefs/io.thoth.agent" "$1" > /dev/null 2>&1 && return 0
  [ -n "$user" ] && defaults read "$managed_prefs/$user/io.thoth.agent" "$1" > /dev/null 2>&1
}

# The flags for wrap-config: a parameter only where the profile is silent.
wrap_args=()
use_parameter() { # <number> <label> <THOTH_NAME> <value> <flag...>
  local number="$1" label="$2" name="$3" value="$4"
  shift 4
  if profile_sets "$name"; then
    [ -z "$value" ] || log "parameter $number ($label) \"$value\" ignored: the configuration profile sets $name"
    return 1
  fi
  [ -n "$value" ] && wrap_args+=("$@")
  return 0
}
if use_parameter 4 'tenant ID' THOTH_TENANT_ID "$tenant" --tenant-id "$tenant" && [ -z "$tenant" ]; then
  fail 1 'no tenant: set THOTH_TENANT_ID in the configuration profile, or parameter 4'
fi
use_parameter 5 'enforcement mode' THOTH_ENFORCEMENT_MODE "$mode" --enforcement-mode "$mode"
use_parameter 7 'environment' THOTH_ENV "$environment" --env "THOTH_ENV=$environment"
use_parameter 8 'fleet ID' THOTH_FLEET_ID "$fleet" --env "THOTH_FLEET_ID=$fleet"

failed=""

# Claude Code's managed-mcp.json belongs to root: it is wrapped here, as root, and never in the
# user's run below (which could not write it).
# Only a file that is root's for real: not a symlink, and neither it nor its directory writable by
# anyone else (root would otherwise write wherever a user pointed it).
only_root_can_write() {
  [ ! -L "$1" ] && [ -z "$(find "$1" "${1%/*}" -maxdepth 0 \( ! -user "$(id -u)" -o -perm -g+w -o -perm -o+w \) -print 2>/dev/null)" ]
}
if [ -f "$claude_managed" ] && [ -x "$thoth" ]; then
  if only_root_can_write "$claude_managed"; then
    output="$("$thoth" wrap-config --client claude-code "$claude_managed" ${wrap_args[@]+"${wrap_args[@]}"} 2>&1)"
    status=$?
    log "managed-mcp.json (as root): exit $status"
    [ -z "$output" ] || log "$output"
    if [ "$status" -ne 0 ] && [ "$status" -ne 4 ]; then failed="$failed managed-mcp.json"; fi
  else
    log "managed-mcp.json left as it is: $claude_managed or its directory is a symlink or writable by others than root"
    failed="$failed managed-mcp.json"
  fi
fi

if [ -z "$user" ]; then
  log 'nobody is logged in: nothing more to govern now (this policy runs again at login and check-in)'
  [ -z "$failed" ] || fail 3 "wrap-config failed for:$failed"
  exit 0
fi
uid="$(id -u "$user")" || fail 1 "cannot find the uid of the console user $user"
log "console user: $user (uid $uid)"

as_user() { launchctl asuser "$uid" sudo -u "$user" -H "$@"; }

# thoth decides whether it meets the minimum (semver), so this script never compares versions.
thoth_ok() {
  [ -x "$thoth" ] || return 1
  local args=(health --format jamf-ea --field meets-min-version)
  [ -z "$min_version" ] || args+=(--min-version "$min_version")
  case "$(as_user "$thoth" "${args[@]}" 2>/dev/null)" in
    '<result>true</result>' | '<result>no-minimum</result>') return 0 ;;
    *) return 1 ;;
  esac
}

if ! thoth_ok; then
  [ -n "$install_trigger" ] || fail 2 "thoth is missing at $thoth or older than ${min_version:-the minimum}, and parameter 9 (install trigger) is empty"
  log "installing thoth: jamf policy -event $install_trigger"
  "$jamf" policy -event "$install_trigger" || log "warning: the install policy exited $?"
  thoth_ok || fail 2 "thoth is still missing at $thoth or older than ${min_version:-the minimum} after the install policy"
fi

case "$clients" in
  all) targets="claude-desktop claude-code cursor vscode windsurf" ;;
  *) targets="$clients" ;;
esac
for client in $targets; do
  if [ "$client" = claude-code ]; then
    # The user's own ~/.claude.json only; managed-mcp.json was handled above. $HOME is the user's
    # (sudo -H), expanded by that shell, not this one.
    # shellcheck disable=SC2016
    output="$(as_user /bin/sh -c 'exec "$0" wrap-config --client claude-code "$HOME/.claude.json" "$@"' "$thoth" ${wrap_args[@]+"${wrap_args[@]}"} 2>&1)"
  else
    output="$(as_user "$thoth" wrap-config --client "$client" ${wrap_args[@]+"${wrap_args[@]}"} 2>&1)"
  fi
  status=$?
  # 4: no config of this client for this user, nothing to govern.
  case "$status" in
    0) log "$client: governed" ;;
    4) log "$client: no config" ;;
    *) log "$client: wrap-config exited $status"; failed="$failed $client" ;;
  esac
  [ "$status" -eq 4 ] || [ -z "$output" ] || log "$output"
done

# The one source of truth for the extension attributes: they read this file, and start no thoth.
field() {
  local out
  out="$(as_user "$thoth" health --format jamf-ea --field "$1" 2>/dev/null)"
  case "$out" in
    '<result>'*'</result>') out="${out#<result>}"; printf '%s' "${out%</result>}" ;;
    *) printf 'error' ;;
  esac
}
state="user=$user
version=$(field version)
governed=$(field governed)
status=$(field status)"
log "$(printf '%s' "$state" | tr '\n' ' ')"
previous="$(cat "$state_file" 2>/dev/null)"
if [ "$state" != "$previous" ]; then
  /bin/mkdir -p "$state_dir" && /bin/chmod 755 "$state_dir"
  tmp="$(/usr/bin/mktemp "$state_dir/.jamf-state.XXXXXX")" && printf '%s\n' "$state" > "$tmp" && /bin/chmod 644 "$tmp" && /bin/mv -f "$tmp" "$state_file"
  # Inventory only when something changed: the extension attributes have news.
  log 'state changed: updating inventory (jamf recon)'
  "$jamf" recon > /dev/null 2>&1 || log "warning: jamf recon exited $?"
fi

[ -z "$failed" ] || fail 3 "wrap-config failed for:$failed"
exit 0
