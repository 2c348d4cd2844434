#!/usr/bin/env bash
# CodeDeploy ValidateService: the deployment succeeds only when /readyz answers 200 (database
# reachable and migrated, broker reachable) and every unit is running, within
# FIRSTCOME_VALIDATE_TIMEOUT_S; otherwise it fails, and CodeDeploy rolls back / keeps the old
# fleet behind the load balancer.
set -euo pipefail
# shellcheck source=scripts/codedeploy/common.sh
. "$(dirname "$0")/common.sh"

[ -f "$ENV_FILE" ] || die "no environment file $ENV_FILE (AfterInstall did not run)"
load_hook_settings "$ENV_FILE"
bind=${GUNICORN_BIND:-127.0.0.1:8000}
url="http://127.0.0.1:${bind##*:}/readyz"
timeout=${FIRSTCOME_VALIDATE_TIMEOUT_S:-120}
wanted_units >/dev/null  # a bad FIRSTCOME_SERVICES or FIRSTCOME_CONSUMERS stops here, loudly
mapfile -t wanted < <(wanted_units)

body=$(mktemp)
deadline=$((SECONDS + timeout))
log "waiting up to ${timeout}s for $url and ${wanted[*]}"
while :; do
  status=$(curl -s -m 3 -o "$body" -w '%{http_code}' "$url" || true)
  down=()
  for unit in "${wanted[@]}"; do unit_active "$unit" || down+=("$unit"); done
  if [ "$status" = 200 ] && [ "${#down[@]}" -eq 0 ]; then
    log "healthy: $(cat "$body")"
    rm -f "$body"
    exit 0
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "readyz answered ${status:-nothing}: $(cat "$body" 2>/dev/null)" >&2
    [ "${#down[@]}" -eq 0 ] || log "not running: ${down[*]}" >&2
    rm -f "$body"
    die "not healthy within ${timeout}s"
  fi
  sleep 1
done
