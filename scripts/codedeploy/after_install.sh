#!/usr/bin/env bash
# CodeDeploy AfterInstall: turn the revision CodeDeploy copied into incoming/ into a release.
#
#   settings                    from SSM Parameter Store on AWS, from site.env + the environment
#                               otherwise; every name and value checked, and the required ones
#                               present, before anything is built or installed
#   releases/<deployment id>/   the code and its own virtualenv (nothing shared with the last one)
#   check --deploy, migrate, collectstatic, create_topics, crontab add: as the service account,
#                               with the new settings and nothing of them in root's environment
#   systemd units               rendered for this host and installed
#   environment file            moved into place only now: a failure before leaves the old one
#   current -> the new release  switched atomically; the last FIRSTCOME_KEEP_RELEASES are kept
#
# Idempotent: a retried deployment rebuilds its release from scratch and switches again.
set -euo pipefail
# shellcheck source=scripts/codedeploy/common.sh
. "$(dirname "$0")/common.sh"

REVISION=$INCOMING_DIR
RELEASE_ID=${DEPLOYMENT_ID:-$(date -u +%Y%m%d%H%M%S)}
RELEASE=$RELEASES_DIR/$RELEASE_ID
BUILD=$RELEASES_DIR/.$RELEASE_ID.partial
[ -f "$REVISION/manage.py" ] || die "no revision in $REVISION (manage.py missing)"
python=${FIRSTCOME_PYTHON:-python3}
scratch=()
trap 'rm -f ${scratch[@]+"${scratch[@]}"}' EXIT

# --- 1. code ----------------------------------------------------------------------------------------
log "building release $RELEASE_ID from $REVISION"
rm -rf "$BUILD"
mkdir -p "$BUILD"
(cd "$REVISION" && tar --exclude=./.git --exclude=./.venv --exclude=./var --exclude=./staticfiles \
  --exclude='*/__pycache__' -cf - .) | tar -C "$BUILD" -xf -

# --- 2. settings: checked before anything is built, installed with the release -----------------
on_aws() {
  command -v aws >/dev/null || return 1
  curl -sf -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
    http://169.254.169.254/latest/api/token >/dev/null 2>&1
}
source_kind=${FIRSTCOME_SECRETS_SOURCE:-auto}
case $source_kind in
  auto) if on_aws; then source_kind="ssm"; else source_kind="env"; fi ;;
  ssm|env) ;;
  *) die "FIRSTCOME_SECRETS_SOURCE must be auto, ssm or env, not '$source_kind'" ;;
esac

declare -A settings=()
order=()
set_setting() {  # set_setting NAME VALUE [WHERE]: refuses what an environment file cannot carry
  local name=$1 value=$2 where=${3:-$1}
  valid_env_name "$name" || die "$where: '$name' is not a valid variable name (letters, digits and _, not starting with a digit)"
  [[ $value != *[$'\n\r']* ]] || die "$name (from $where): a multi-line value cannot go into an environment file"
  [[ $value != *"'"* ]] || die "$name (from $where): a value with a single quote cannot go into an environment file"
  [ -n "${settings[$name]+set}" ] || order+=("$name")
  settings[$name]=$value
}
# What an operator keeps on the host (lowest precedence) ...
if [ -f "$SITE_ENV_FILE" ]; then
  log "settings from $SITE_ENV_FILE"
  each_env_line "$SITE_ENV_FILE" "site settings $SITE_ENV_FILE" set_setting
fi
# ... then every variable .env.example names that this hook's environment sets ...
while IFS= read -r name; do
  if [ -n "${!name+set}" ]; then set_setting "$name" "${!name}" "the hook's environment"; fi
done < <(sed -nE 's/^#? ?([A-Z][A-Z0-9_]*)=.*/\1/p' "$BUILD/.env.example" | sort -u)
# ... then SSM Parameter Store: /firstcome/prod/DATABASE_URL -> DATABASE_URL (highest).
if [ "$source_kind" = ssm ]; then
  ssm_path=${FIRSTCOME_SSM_PATH:-/firstcome/prod}
  log "settings from SSM Parameter Store under $ssm_path"
  # JSON, not text: a text line per parameter would split a multi-line value into lines that
  # look like further parameters.
  parameters=$(aws ssm get-parameters-by-path --path "$ssm_path" --recursive --with-decryption \
    --query 'Parameters[].[Name,Value]' --output json) || die "could not read SSM parameters under $ssm_path"
  pairs=$(mktemp)
  scratch+=("$pairs")
  "$python" -c 'import json, sys
for name, value in json.load(sys.stdin) or []:
    sys.stdout.write(f"{name}\0{value}\0")' <<< "$parameters" > "$pairs" || die "unreadable answer from SSM under $ssm_path"
  while IFS= read -r -d '' name && IFS= read -r -d '' value; do
    set_setting "${name##*/}" "$value" "SSM parameter $name"
  done < "$pairs"
fi
[ -n "${settings[DJANGO_SETTINGS_MODULE]+set}" ] || set_setting DJANGO_SETTINGS_MODULE campaign_site.settings.production
set_setting FIRSTCOME_ENV_FILE "$ENV_FILE"  # cron jobs load this very file

missing=()
for name in DJANGO_SECRET_KEY DJANGO_ALLOWED_HOSTS DATABASE_URL KAFKA_BOOTSTRAP_SERVERS; do
  [ -n "${settings[$name]:-}" ] || missing+=("$name")
done
[ "${#missing[@]}" -eq 0 ] || die "required settings missing (source: $source_kind): ${missing[*]}"
for name in DJANGO_SECRET_KEY FIRSTCOME_METRICS_TOKEN; do
  example=$(sed -n "s/^$name=//p" "$BUILD/.env.example")
  [ "${settings[$name]:-}" != "$example" ] || die "$name is the example value from .env.example"
done
# The directories step 4 creates for the service account, checked before anything is built.
[ -z "${settings[FIRSTCOME_VAR_DIR]:-}" ] || confined_dir FIRSTCOME_VAR_DIR "${settings[FIRSTCOME_VAR_DIR]}" >/dev/null
[ -z "${settings[STATS_BATCH_LOG]:-}" ] ||
  confined_dir "the directory of STATS_BATCH_LOG" "$(dirname "${settings[STATS_BATCH_LOG]}")" >/dev/null

# The new settings, beside the file in use until the release is complete.
mkdir -p "$(dirname "$ENV_FILE")"
tmp=$(mktemp "$ENV_FILE.XXXXXX")
scratch+=("$tmp")
{
  echo "# Written by the AfterInstall hook of release $RELEASE_ID; edit $SITE_ENV_FILE or SSM instead."
  for name in "${order[@]}"; do printf "%s='%s'\n" "$name" "${settings[$name]}"; done
} > "$tmp"
chmod 640 "$tmp"
chgrp "$RUN_GROUP" "$tmp"
load_hook_settings "$tmp"

# --- 3. virtualenv -----------------------------------------------------------------------------------
log "creating the virtualenv with $("$python" --version 2>&1)"
if [ -n "${FIRSTCOME_VENV_SHARED_SITE_PACKAGES:-}" ]; then
  [ -d "$FIRSTCOME_VENV_SHARED_SITE_PACKAGES" ] || die "FIRSTCOME_VENV_SHARED_SITE_PACKAGES=$FIRSTCOME_VENV_SHARED_SITE_PACKAGES is not a directory"
  "$python" -m venv --without-pip "$BUILD/venv"  # pip comes from the shared packages too
  site=$("$BUILD/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  log "the virtualenv also sees $FIRSTCOME_VENV_SHARED_SITE_PACKAGES"
  echo "$FIRSTCOME_VENV_SHARED_SITE_PACKAGES" > "$site/firstcome-shared.pth"
else
  "$python" -m venv "$BUILD/venv"
fi
log "installing requirements.txt"
# shellcheck disable=SC2086  # extra pip arguments are a word list
"$BUILD/venv/bin/python" -m pip install --disable-pip-version-check -q -r "$BUILD/requirements.txt" ${FIRSTCOME_PIP_ARGS:-}

# --- 4. the release ---------------------------------------------------------------------------------
rm -rf "$RELEASE"
mv "$BUILD" "$RELEASE"
PY=$RELEASE/venv/bin/python
# Where the services, the cron job and collectstatic write, owned by the account they run as;
# the rest of the release stays root's.
# Only inside the application's own directories: whoever can write the env file must not be able
# to have root create and hand the service account a directory elsewhere (/etc, /root, ...).
var_dir=$(confined_dir FIRSTCOME_VAR_DIR "${FIRSTCOME_VAR_DIR:-$RELEASE/var}")  # the settings' defaults
log_dir=$(confined_dir "the directory of STATS_BATCH_LOG" "$(dirname "${STATS_BATCH_LOG:-$var_dir/stats_batch.log}")")
for dir in "$RELEASE/staticfiles" "$var_dir" "$log_dir"; do
  mkdir -p "$dir"
  # Checked again now that it exists: a symlink put there meanwhile is refused, and chown -h never
  # follows one.
  if [ -L "$dir" ] || [ "$(realpath -- "$dir")" != "$dir" ]; then die "$dir became a symlink: refused"; fi
  chown -h "$RUN_USER:$RUN_GROUP" "$dir"
done

# --- 5. database, static files, topics, cron ------------------------------------------------------
# As the service account, with the new settings: the hook's own (root's) environment never
# holds them, so a PYTHONPATH or LD_PRELOAD among them runs nothing as root.
manage() { run_with_env_file "$tmp" "$RELEASE" "$PY" manage.py "$@"; }
log "manage.py runs as $RUN_USER"
log "manage.py check --deploy"
manage check --deploy --fail-level WARNING
# Migrations are expand-only while the previous release still runs (docs/deploy.md).
log "manage.py migrate"
manage migrate --noinput
log "manage.py collectstatic"
manage collectstatic --noinput --verbosity 0
log "manage.py create_topics"
manage create_topics
# The cron jobs (the daily statistics batch) run on one host of the fleet: the one whose
# FIRSTCOME_SERVICES says cron. Elsewhere this release's jobs are removed, if a role changed.
if [[ " $(host_services) " == *" cron "* ]]; then
  log "manage.py crontab add"
  manage crontab add
else
  log "manage.py crontab remove: this host does not run the cron jobs"
  manage crontab remove
fi

# --- 6. units and the switch ------------------------------------------------------------------------
log "installing units into $UNIT_DIR"
mkdir -p "$UNIT_DIR"
for template in "$RELEASE"/scripts/systemd/*; do
  unit=$UNIT_DIR/$(basename "$template")
  sed -e "s|@APP_ROOT@|$APP_ROOT|g" -e "s|@ENV_FILE@|$ENV_FILE|g" \
      -e "s|@USER@|$RUN_USER|g" -e "s|@GROUP@|$RUN_GROUP|g" "$template" > "$unit.tmp"
  mv -f "$unit.tmp" "$unit"
done
if [ "$MANAGER" = systemd ]; then
  systemctl daemon-reload
  systemctl enable --quiet firstcome.target
fi

log "writing $ENV_FILE (${#order[@]} settings, source: $source_kind)"
mv -f "$tmp" "$ENV_FILE"
ln -sfn "$RELEASE" "$APP_ROOT/.current.tmp"
mv -Tf "$APP_ROOT/.current.tmp" "$CURRENT"
log "current -> $RELEASE"

keep=${FIRSTCOME_KEEP_RELEASES:-3}
find "$RELEASES_DIR" -mindepth 1 -maxdepth 1 -type d -not -name '.*' -printf '%T@ %p\n' | sort -rn |
  tail -n +"$((keep + 1))" | cut -d' ' -f2- | while IFS= read -r old; do
    [ "$old" = "$RELEASE" ] && continue
    log "removing old release $old"
    rm -rf "$old"
  done
log "release $RELEASE_ID installed"
