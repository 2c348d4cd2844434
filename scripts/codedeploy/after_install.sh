#!/usr/bin/env bash
# CodeDeploy AfterInstall: turn the revision CodeDeploy copied into incoming/ into a release.
#
#   releases/<deployment id>/   the code and its own virtualenv (nothing shared with the last one)
#   environment file            from SSM Parameter Store on AWS, from site.env + the environment
#                               otherwise; refuses to go on without the required settings
#   check --deploy, migrate, collectstatic, create_topics, crontab add
#   systemd units               rendered for this host and installed
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
set_setting() {
  local name=$1 value=$2
  [[ $value != *$'\n'* && $value != *"'"* ]] || die "$name: a value with a newline or a single quote cannot go into an environment file"
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
  if [ -n "${!name+set}" ]; then set_setting "$name" "${!name}"; fi
done < <(sed -nE 's/^#? ?([A-Z][A-Z0-9_]*)=.*/\1/p' "$BUILD/.env.example" | sort -u)
# ... then SSM Parameter Store: /firstcome/prod/DATABASE_URL -> DATABASE_URL (highest).
if [ "$source_kind" = ssm ]; then
  ssm_path=${FIRSTCOME_SSM_PATH:-/firstcome/prod}
  log "settings from SSM Parameter Store under $ssm_path"
  parameters=$(aws ssm get-parameters-by-path --path "$ssm_path" --recursive --with-decryption \
    --query 'Parameters[].[Name,Value]' --output text) || die "could not read SSM parameters under $ssm_path"
  while IFS=$'\t' read -r name value; do
    [ -n "$name" ] && set_setting "${name##*/}" "$value"
  done <<< "$parameters"
fi
[ -n "${settings[DJANGO_SETTINGS_MODULE]+set}" ] || set_setting DJANGO_SETTINGS_MODULE campaign_site.settings.production
set_setting FIRSTCOME_ENV_FILE "$ENV_FILE"  # cron jobs load this very file

missing=()
for name in DJANGO_SECRET_KEY DJANGO_ALLOWED_HOSTS DATABASE_URL KAFKA_BOOTSTRAP_SERVERS; do
  [ -n "${settings[$name]:-}" ] || missing+=("$name")
done
[ "${#missing[@]}" -eq 0 ] || die "required settings missing (source: $source_kind): ${missing[*]}"
example_key=$(sed -n 's/^DJANGO_SECRET_KEY=//p' "$BUILD/.env.example")
[ "${settings[DJANGO_SECRET_KEY]}" != "$example_key" ] || die "DJANGO_SECRET_KEY is the example value from .env.example"

mkdir -p "$(dirname "$ENV_FILE")"
tmp=$(mktemp "$ENV_FILE.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo "# Written by the AfterInstall hook of release $RELEASE_ID; edit $SITE_ENV_FILE or SSM instead."
  for name in "${order[@]}"; do printf "%s='%s'\n" "$name" "${settings[$name]}"; done
} > "$tmp"
chmod 640 "$tmp"
chgrp "$RUN_GROUP" "$tmp"

# --- 3. virtualenv -----------------------------------------------------------------------------------
python=${FIRSTCOME_PYTHON:-python3}
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

# --- 4. the release and its settings in place --------------------------------------------------------
rm -rf "$RELEASE"
mv "$BUILD" "$RELEASE"
PY=$RELEASE/venv/bin/python
log "writing $ENV_FILE (${#order[@]} settings, source: $source_kind)"
mv -f "$tmp" "$ENV_FILE"
load_env_file "$ENV_FILE"
# Where the services and the cron job write, owned by the account they run as: the manage.py
# steps below run as root and would otherwise create these directories root-owned.
for dir in "${FIRSTCOME_VAR_DIR:-}" "$(dirname "${STATS_BATCH_LOG:-}")"; do
  if [ -n "$dir" ] && [ "$dir" != . ]; then
    mkdir -p "$dir"
    chown "$RUN_USER:$RUN_GROUP" "$dir"
  fi
done

# --- 5. database, static files, topics, cron ------------------------------------------------------
manage() { (cd "$RELEASE" && "$PY" manage.py "$@"); }
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
  log "manage.py crontab add (as $RUN_USER)"
  (cd "$RELEASE" && as_app_user "$PY" manage.py crontab add)
else
  log "manage.py crontab remove (as $RUN_USER): this host does not run the cron jobs"
  (cd "$RELEASE" && as_app_user "$PY" manage.py crontab remove)
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
