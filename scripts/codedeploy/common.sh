# shellcheck shell=bash
# Shared by the CodeDeploy hook scripts (appspec.yml): configuration, logging, and one interface
# over the service manager — systemd on a real host, or plain processes with pid files where
# systemd is not running (containers, CI, the tests).
#
# Every setting has a production default and can be changed from the environment:
#   FIRSTCOME_APP_ROOT        /opt/firstcome: releases/<id>/ (code + venv), current -> active one,
#                             incoming/ (where CodeDeploy copies the revision), run/, log/
#   FIRSTCOME_ENV_FILE        /etc/firstcome/firstcome.env: written at install, read by the units
#   FIRSTCOME_SITE_ENV_FILE   /etc/firstcome/site.env: operator-kept settings (off AWS)
#   FIRSTCOME_SECRETS_SOURCE  auto | ssm | env (auto: SSM when the aws cli and instance metadata
#                             answer)
#   FIRSTCOME_SSM_PATH        /firstcome/prod: SSM parameters NAME under it become NAME=value
#   FIRSTCOME_SERVICE_MANAGER auto | systemd | direct
#   FIRSTCOME_UNIT_DIR        where units are installed (/etc/systemd/system; direct: run/units)
#   FIRSTCOME_USER, _GROUP    the account the services run as (firstcome)
#   FIRSTCOME_SERVICES        web,consume,consume-stats: what this host runs; add cron (the
#                             django-crontab jobs) on exactly one host of the fleet
#   FIRSTCOME_CONSUMERS       consume_firstcome instances (default FIRSTCOME_PARTITIONS, or 1)
#   FIRSTCOME_PYTHON          interpreter for the release virtualenv (python3)
#   FIRSTCOME_PIP_ARGS        extra pip arguments (e.g. --no-index --find-links /srv/wheels)
#   FIRSTCOME_VENV_SHARED_SITE_PACKAGES  a site-packages directory the new virtualenv also sees
#                             (a warm cache for CI; pip still checks every requirement)
#   FIRSTCOME_OS_PACKAGES     Debian packages BeforeInstall makes sure of
#   FIRSTCOME_KEEP_RELEASES   3
#   FIRSTCOME_VALIDATE_TIMEOUT_S  120: how long ValidateService waits for /readyz
set -euo pipefail
# shellcheck disable=SC2034  # the hook scripts that source this file use these
{
APP_ROOT=${FIRSTCOME_APP_ROOT:-/opt/firstcome}
ENV_FILE=${FIRSTCOME_ENV_FILE:-/etc/firstcome/firstcome.env}
SITE_ENV_FILE=${FIRSTCOME_SITE_ENV_FILE:-/etc/firstcome/site.env}
RUN_USER=${FIRSTCOME_USER:-firstcome}
RUN_GROUP=${FIRSTCOME_GROUP:-$RUN_USER}
INCOMING_DIR=$APP_ROOT/incoming
RELEASES_DIR=$APP_ROOT/releases
CURRENT=$APP_ROOT/current
HOOK=${LIFECYCLE_EVENT:-$(basename "$0" .sh)}
}

# Directories the AfterInstall hook may create and give the service account: inside the release,
# or the application's own state and log directories.
WRITABLE_ROOTS=(/var/lib/firstcome /var/log/firstcome)
confined_dir() {  # confined_dir WHAT PATH: PATH resolved, or die when outside the release and WRITABLE_ROOTS
  local what=$1 path=$2 root resolved
  [[ $path == /* ]] || die "$what ($path) must be an absolute path"
  resolved=$(realpath -m -- "$path")
  if [[ -n ${RELEASE:-} && $resolved == "$(realpath -m -- "$RELEASE")"/* ]]; then
    echo "$resolved"; return 0
  fi
  for root in "${WRITABLE_ROOTS[@]}"; do
    if [[ $resolved == "$root" || $resolved == "$root"/* ]]; then echo "$resolved"; return 0; fi
  done
  die "$what ($path) is outside the application's own directories (the release, ${WRITABLE_ROOTS[*]}): refused"
}

log() { printf '%s firstcome[%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$HOOK" "$*"; }
die() { log "FAILED: $*" >&2; exit 1; }
# A command that fails under `set -e` is named, with where it failed, before the script exits.
set -E
trap 'log "FAILED (exit $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

service_manager() {
  case ${FIRSTCOME_SERVICE_MANAGER:-auto} in
    systemd|direct) echo "$FIRSTCOME_SERVICE_MANAGER" ;;
    auto) if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then echo systemd; else echo direct; fi ;;
    *) die "FIRSTCOME_SERVICE_MANAGER must be auto, systemd or direct, not '$FIRSTCOME_SERVICE_MANAGER'" ;;
  esac
}
MANAGER=$(service_manager)
if [ "$MANAGER" = systemd ]; then
  UNIT_DIR=${FIRSTCOME_UNIT_DIR:-/etc/systemd/system}
else
  UNIT_DIR=${FIRSTCOME_UNIT_DIR:-$APP_ROOT/run/units}
fi

# A name an environment file (systemd, sh) can carry.
valid_env_name() { [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; }

# One line of an environment file: sets ENV_NAME and ENV_VALUE; returns 1 for a blank line or a
# comment; dies naming the file on anything that is not NAME=value.
parse_env_line() {
  local file=$1 line=$2
  case $line in ''|'#'*) return 1 ;; esac
  ENV_NAME=${line%%=*}
  ENV_VALUE=${line#*=}
  # the files we write quote values in single quotes (systemd and sh read them alike)
  if [[ $ENV_VALUE == \'*\' ]]; then ENV_VALUE=${ENV_VALUE:1:${#ENV_VALUE}-2}; fi
  if [[ $line != *=* ]] || ! valid_env_name "$ENV_NAME"; then die "$file: not a NAME=value line: $line"; fi
}

# CALLBACK NAME VALUE for each NAME=value line of FILE (comments and blanks skipped); WHERE
# names the file in errors.
each_env_line() {
  local file=$1 where=$2 callback=$3 line
  while IFS= read -r line || [ -n "$line" ]; do
    parse_env_line "$where" "$line" || continue
    "$callback" "$ENV_NAME" "$ENV_VALUE"
  done < "$file"
}

export_setting() { export "$1=$2"; }

# Read NAME=value lines into the environment. Only ever in a process that runs as the service
# account (run_with_env_file) or as the service itself (direct mode): the file may set PYTHONPATH
# or LD_PRELOAD, which must never reach a process running as root.
load_env_file() { each_env_line "$1" "$1" export_setting; }

# The few settings the hooks act on themselves, read as plain shell variables (an env file value
# wins over the hook's environment, as it would for the services); nothing else of the file
# enters the hook's environment.
HOOK_SETTINGS=" FIRSTCOME_SERVICES FIRSTCOME_CONSUMERS FIRSTCOME_PARTITIONS GUNICORN_BIND FIRSTCOME_VAR_DIR STATS_BATCH_LOG "
hook_setting() { if [[ $HOOK_SETTINGS == *" $1 "* ]]; then printf -v "$1" '%s' "$2"; fi; }
load_hook_settings() { each_env_line "$1" "$1" hook_setting; }

host_services() {
  local services=${FIRSTCOME_SERVICES:-web,consume,consume-stats}
  echo "${services//,/ }"
}

# The units this host runs, as systemd names: web, N consumers, the statistics consumer.
wanted_units() {
  local service i consumers=${FIRSTCOME_CONSUMERS:-${FIRSTCOME_PARTITIONS:-1}}
  [[ $consumers =~ ^[1-9][0-9]*$ ]] || die "FIRSTCOME_CONSUMERS must be a positive number, not '$consumers'"
  for service in $(host_services); do
    case $service in
      web) echo firstcome-web.service ;;
      consume) for ((i = 0; i < consumers; i++)); do echo "firstcome-consume@$i.service"; done ;;
      consume-stats) echo firstcome-consume-stats.service ;;
      cron) ;;  # not a unit: AfterInstall installs the jobs
      *) die "unknown service '$service' in FIRSTCOME_SERVICES (web, consume, consume-stats, cron)" ;;
    esac
  done
}

# Units of ours that are running (or have a pid file), whatever the current configuration says:
# stopping must also catch consumer instances from a larger, earlier FIRSTCOME_CONSUMERS.
running_units() {
  if [ "$MANAGER" = systemd ]; then
    systemctl list-units --plain --no-legend --state=active,activating,reloading,deactivating \
      'firstcome-web.service' 'firstcome-consume@*.service' 'firstcome-consume-stats.service' | awk '{print $1}'
  else
    local pidfile
    for pidfile in "$APP_ROOT"/run/*.pid; do
      [ -e "$pidfile" ] && basename "$pidfile" .pid
    done
    return 0
  fi
}

# Units of ours that start at boot (systemd: the links `systemctl enable` left in
# firstcome.target.wants), running or not. Direct mode starts nothing at boot: none.
enabled_units() {
  [ "$MANAGER" = systemd ] || return 0
  local link
  for link in "$UNIT_DIR"/firstcome.target.wants/firstcome-*.service; do
    if [ -L "$link" ]; then basename "$link"; fi
  done
  return 0
}

# --- direct mode: the unit file's own ExecStart, WorkingDirectory and environment --------------
unit_file() {  # firstcome-consume@2.service -> .../firstcome-consume@.service
  local unit=$1
  if [[ $unit == *@*.service ]]; then echo "$UNIT_DIR/${unit%%@*}@.service"; else echo "$UNIT_DIR/$unit"; fi
}

unit_key() {  # unit_key FILE KEY: the value of the first KEY= line
  sed -n "s/^$2=//p" "$1" | head -n 1
}

direct_alive() {
  local pidfile=$APP_ROOT/run/$1.pid
  [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

direct_start() {
  local unit=$1 file instance exec_start workdir environment runtime_dir
  file=$(unit_file "$unit")
  [ -f "$file" ] || die "no unit file $file (AfterInstall installs them)"
  instance=${unit#*@}; instance=${instance%.service}
  exec_start=$(unit_key "$file" ExecStart); exec_start=${exec_start//%i/$instance}
  workdir=$(unit_key "$file" WorkingDirectory)
  environment=$(unit_key "$file" Environment)
  runtime_dir=$(unit_key "$file" RuntimeDirectory)
  if [ -n "$runtime_dir" ]; then  # systemd's /run/<dir>, made per service; here under run/
    mkdir -p "$APP_ROOT/run/$runtime_dir"
    environment=${environment//\/run\/$runtime_dir/$APP_ROOT/run/$runtime_dir}
  fi
  mkdir -p "$APP_ROOT/run" "$APP_ROOT/log"
  (
    cd "$workdir"
    # As systemd does: the unit's Environment= first, its EnvironmentFile= may override it.
    for assignment in $environment; do export "${assignment?}"; done
    load_env_file "$ENV_FILE"
    # shellcheck disable=SC2086  # ExecStart is a word list, as systemd reads it
    exec setsid $exec_start </dev/null >>"$APP_ROOT/log/$unit.log" 2>&1
  ) &
  echo $! > "$APP_ROOT/run/$unit.pid"
  log "started $unit (pid $!, log $APP_ROOT/log/$unit.log)"
}

direct_stop() {  # direct_stop UNIT...: SIGTERM to all at once, then wait for each (as systemd would)
  local unit pid file timeout deadline
  local -A pids=() timeouts=()
  for unit in "$@"; do
    [ -s "$APP_ROOT/run/$unit.pid" ] || { rm -f "$APP_ROOT/run/$unit.pid"; continue; }
    pid=$(cat "$APP_ROOT/run/$unit.pid")
    if ! kill -0 "$pid" 2>/dev/null; then rm -f "$APP_ROOT/run/$unit.pid"; continue; fi
    file=$(unit_file "$unit")
    timeout=45
    if [ -f "$file" ]; then timeout=$(unit_key "$file" TimeoutStopSec); timeout=${timeout:-45}; fi
    log "stopping $unit (pid $pid): SIGTERM, up to ${timeout}s"
    kill -TERM "$pid"
    pids[$unit]=$pid
    timeouts[$unit]=$timeout
  done
  for unit in "${!pids[@]}"; do
    pid=${pids[$unit]}
    deadline=$((SECONDS + timeouts[$unit]))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$unit did not stop within ${timeouts[$unit]}s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
    fi
    rm -f "$APP_ROOT/run/$unit.pid"
  done
}

# --- one interface over both -------------------------------------------------------------------
start_unit() {
  if [ "$MANAGER" = systemd ]; then
    log "systemctl restart $1"
    systemctl enable --quiet "$1"
    systemctl restart "$1"
  else
    direct_stop "$1"
    direct_start "$1"
  fi
}

stop_units() {  # in parallel, and wait for all
  [ "$#" -gt 0 ] || return 0
  if [ "$MANAGER" = systemd ]; then
    log "systemctl stop $*"
    systemctl stop "$@"
  else
    direct_stop "$@"
  fi
}

retire_units() {  # units no longer wanted here: stopped, and under systemd no longer started at boot
  if [ "$MANAGER" = systemd ] && [ "$#" -gt 0 ]; then
    log "systemctl disable $*"
    systemctl disable --quiet "$@"
  fi
  stop_units "$@"
}

unit_active() {
  if [ "$MANAGER" = systemd ]; then systemctl is-active --quiet "$1"; else direct_alive "$1"; fi
}

# Run a command as the service account (the hooks run as root under CodeDeploy).
as_app_user() {
  if [ "$(id -un)" = "$RUN_USER" ]; then "$@"; else runuser -u "$RUN_USER" -g "$RUN_GROUP" -- "$@"; fi
}

# run_with_env_file ENV_FILE DIR COMMAND...: COMMAND in DIR as the service account, with what a
# unit would get: a minimal PATH, HOME and LANG, then ENV_FILE's settings. The file is read by a
# shell that already runs as the service account (it can: the file is group-readable), so no
# root process, runuser included, ever has the file's variables in its environment, and no
# secret is passed on a command line.
run_with_env_file() {
  local file=$1 dir=$2 home reader
  shift 2
  home=$(getent passwd "$RUN_USER" | cut -d: -f6) || home=$APP_ROOT
  reader="$(declare -f log die valid_env_name parse_env_line each_env_line export_setting load_env_file)
set -euo pipefail
HOOK=\$1; load_env_file \"\$2\"; cd \"\$3\"; shift 3; exec \"\$@\""
  as_app_user env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" LANG=C.UTF-8 \
    bash -c "$reader" run_with_env_file "$HOOK" "$file" "$dir" "$@"
}
