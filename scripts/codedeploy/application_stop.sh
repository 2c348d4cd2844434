#!/usr/bin/env bash
# CodeDeploy ApplicationStop (the previous revision's copy runs): stop every firstcome unit on
# this host. CodeDeploy has already taken the instance out of the load balancer, so the web
# server only finishes the requests in hand; each consumer finishes and commits its batch
# (SIGTERM) — what it has not committed is redelivered to the next owner. Idempotent: nothing
# running is nothing to do.
set -euo pipefail
# shellcheck source=scripts/codedeploy/common.sh
. "$(dirname "$0")/common.sh"

mapfile -t units < <(running_units)
if [ "${#units[@]}" -eq 0 ]; then
  log "nothing running"
  exit 0
fi
# The web server first (no new requests), then the consumers; systemd stops a list in parallel.
mapfile -t ordered < <(printf '%s\n' "${units[@]}" | sort -t- -k2,2r)
if [ "$MANAGER" = systemd ]; then
  log "systemctl stop ${ordered[*]}"
  systemctl stop "${ordered[@]}"
else
  for unit in "${ordered[@]}"; do stop_unit "$unit"; done
fi
log "stopped: ${ordered[*]}"
