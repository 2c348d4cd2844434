#!/usr/bin/env bash
# CodeDeploy ApplicationStart: (re)start the units of the current release — web, one
# consume_firstcome per partition (FIRSTCOME_CONSUMERS), the statistics consumer — and stop
# (under systemd also disable) units this configuration no longer wants. Idempotent: a second
# run restarts.
set -euo pipefail
# shellcheck source=scripts/codedeploy/common.sh
. "$(dirname "$0")/common.sh"

[ -L "$CURRENT" ] || die "no current release at $CURRENT (AfterInstall did not run)"
[ -f "$ENV_FILE" ] || die "no environment file $ENV_FILE (AfterInstall did not run)"
load_hook_settings "$ENV_FILE"

wanted_units >/dev/null  # a bad FIRSTCOME_SERVICES or FIRSTCOME_CONSUMERS stops here, loudly
mapfile -t wanted < <(wanted_units)
# Running or enabled at boot: ApplicationStop has stopped everything by now, but a unit this
# configuration dropped must not come back at the next boot either.
mapfile -t present < <({ running_units; enabled_units; } | sort -u)
unwanted=()
for unit in "${present[@]}"; do
  [[ " ${wanted[*]} " == *" $unit "* ]] || unwanted+=("$unit")
done
if [ "${#unwanted[@]}" -gt 0 ]; then
  log "no longer wanted here: ${unwanted[*]}"
  retire_units "${unwanted[@]}"
fi
for unit in "${wanted[@]}"; do start_unit "$unit"; done
log "started $(readlink "$CURRENT"): ${wanted[*]}"
