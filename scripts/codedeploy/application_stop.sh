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
# All at once: the load balancer no longer sends requests here, and what the web server accepted
# is in Kafka already, for whichever consumer of the group owns its partition.
stop_units "${units[@]}"
log "stopped: ${units[*]}"
