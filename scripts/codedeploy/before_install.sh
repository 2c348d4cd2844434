#!/usr/bin/env bash
# CodeDeploy BeforeInstall: the host is ready to receive a revision — OS packages, the service
# account, the directories — and incoming/ is empty, so files deleted from the revision do not
# linger from the last one. Idempotent.
set -euo pipefail
# shellcheck source=scripts/codedeploy/common.sh
. "$(dirname "$0")/common.sh"

packages=${FIRSTCOME_OS_PACKAGES-python3 python3-venv python3-dev build-essential pkg-config libmariadb-dev cron curl}
missing=()
for package in $packages; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing OS packages (${missing[*]}) and no apt-get to install them"
  log "installing OS packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! id "$RUN_USER" >/dev/null 2>&1; then
  log "creating the service account $RUN_USER"
  useradd --system --user-group --home-dir "$APP_ROOT" --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
fi

log "preparing $APP_ROOT and $(dirname "$ENV_FILE")"
mkdir -p "$RELEASES_DIR" "$APP_ROOT/run" "$APP_ROOT/log" "$(dirname "$ENV_FILE")"
chmod 750 "$(dirname "$ENV_FILE")"
chgrp "$RUN_GROUP" "$(dirname "$ENV_FILE")"
rm -rf "$INCOMING_DIR"
mkdir -p "$INCOMING_DIR"
log "ready for the revision in $INCOMING_DIR"
