#!/bin/bash
# thoth: Jamf Pro policy script. Installs or verifies thoth, then puts every MCP server of the
# console user's clients behind `thoth run` (wrap-config), and reports the result.
#
# Runs as root (Jamf policies do). thoth itself is only ever run AS THE CONSOLE USER, with
# `launchctl asuser <uid> sudo -u <user>`: it edits that user's files in that user's session.
# Written for the bash 3.2 that ships with macOS.
#
# Parameters (Settings > Computer Management > Scripts > Options > Parameter Labels):
#   $4  Tenant ID (required)               e.g. acme
#   $5  Enforcement mode                   progressive (default) | step_up | block | observe
#   $6  Minimum thoth version              e.g. 0.2.0 (empty: any version)
#   $7  Environment                        prod | staging | dev, written into each server's env
#                                          (empty: leave it to the managed profile; thoth defaults to prod)
#   $8  Fleet ID                           optional, written into each server's env
#   $9  Install trigger                    custom event of the policy that installs thoth, run when
#                                          thoth is missing or too old (empty: never install)
#   $10 thoth path                         default /usr/local/bin/thoth
#   $11 Clients                            all (default) | claude-desktop | claude-code | cursor | vscode | windsurf
#
# Exit codes: 0 governed, or nobody logged in (the policy runs again at the next check-in or login);
#             1 bad parameters; 2 thoth missing or too old after the install trigger; 3 wrap-config failed.

tenant="${4:-}"
mode="${5:-progressive}"
min_version="${6:-}"
environment="${7:-}"
fleet="${8:-}"
install_trigger="${9:-}"
thoth="${10:-/usr/local/bin/thoth}"
clients="${11:-all}"

log() { printf 'thoth-policy: %s\n' "$*"; }
fail() { log "error: $2"; exit "$1"; }

[ -n "$tenant" ] || fail 1 'parameter 4 (tenant ID) is empty'
case "$mode" in progressive | step_up | block | observe) ;; *) fail 1 "parameter 5 (enforcement mode) must be progressive, step_up, block or observe, not \"$mode\"" ;; esac
case "$environment" in '' | prod | staging | dev) ;; *) fail 1 "parameter 7 (environment) must be prod, staging or dev, not \"$environment\"" ;; esac
case "$clients" in all | claude-desktop | claude-code | cursor | vscode | windsurf) ;; *) fail 1 "parameter 11 (clients) is not a client thoth knows: \"$clients\"" ;; esac

# The console user, as Apple's own tools see it; loginwindow means nobody is logged in, and
# _mbsetupuser is Setup Assistant.
user="$(scutil <<< 'show State:/Users/ConsoleUser' | awk '/Name :/ && ! /loginwindow/ { print $3; exit }')"
if [ -z "$user" ] || [ "$user" = "_mbsetupuser" ]; then
  log 'nobody is logged in: nothing to govern yet (scope this policy to Login or Recurring Check-in)'
  exit 0
fi
uid="$(id -u "$user")" || fail 1 "cannot find the uid of the console user $user"
log "console user: $user (uid $uid)"

as_user() { launchctl asuser "$uid" sudo -u "$user" -H "$@"; }

# thoth decides whether it meets the minimum (semver), so this script never compares versions.
thoth_ok() {
  [ -x "$thoth" ] || return 1
  [ -z "$min_version" ] && return 0
  case "$(as_user "$thoth" health --format jamf-ea --field meets-min-version --min-version "$min_version" 2>/dev/null)" in
    '<result>true</result>') return 0 ;;
    *) return 1 ;;
  esac
}

if ! thoth_ok; then
  [ -n "$install_trigger" ] || fail 2 "thoth is missing at $thoth or older than ${min_version:-any version}, and parameter 9 (install trigger) is empty"
  log "installing thoth: jamf policy -event $install_trigger"
  jamf policy -event "$install_trigger" || log "warning: the install policy exited $?"
  thoth_ok || fail 2 "thoth is still missing at $thoth or older than $min_version after the install policy"
fi

# No --thoth-bin: wrap-config then writes the absolute node and thoth entry script, which work with
# the minimal PATH (/usr/bin:/bin:/usr/sbin:/sbin) MCP clients start servers with; the npm shim
# /usr/local/bin/thoth (#!/usr/bin/env node) would not find node there.
client_args=(--all)
[ "$clients" = all ] || client_args=(--client "$clients")
env_args=()
[ -z "$environment" ] || env_args+=(--env "THOTH_ENV=$environment")
[ -z "$fleet" ] || env_args+=(--env "THOTH_FLEET_ID=$fleet")

log "wrapping ${clients} MCP client configs of $user (tenant $tenant, mode $mode)"
as_user "$thoth" wrap-config "${client_args[@]}" --tenant-id "$tenant" --enforcement-mode "$mode" ${env_args[@]+"${env_args[@]}"}
status=$?
# 4 = no config found for this user: nothing to govern is not a failure.
if [ "$status" -ne 0 ] && [ "$status" -ne 4 ]; then
  fail 3 "wrap-config exited $status"
fi

governed="$(as_user "$thoth" health --format jamf-ea --field governed 2>/dev/null)"
health="$(as_user "$thoth" health --format jamf-ea --field status 2>/dev/null)"
log "governed: ${governed:-<result>error</result>}  status: ${health:-<result>error</result>}"
exit 0
