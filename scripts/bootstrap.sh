#!/usr/bin/env bash
# Create .venv and install the project's requirements into it. Idempotent: it reinstalls only
# when a requirements file changed. Usage: scripts/bootstrap.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=requirements.txt
[ "${1:-}" = dev ] && requirements=requirements-dev.txt

# mysqlclient compiles against the MariaDB/MySQL client headers.
if ! pkg-config --exists libmariadb 2>/dev/null && ! pkg-config --exists mysqlclient 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing libmariadb-dev and pkg-config (needed to build mysqlclient)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmariadb-dev pkg-config >/dev/null
  else
    echo "bootstrap: mysqlclient needs the MariaDB client headers: sudo apt-get install libmariadb-dev pkg-config" >&2
    exit 1
  fi
fi

# `manage.py crontab add` (the daily statistics batch) writes the crontab with crontab(1).
if ! command -v crontab >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing cron (schedules the daily statistics batch)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cron >/dev/null
  else
    echo "bootstrap: note: scheduling the statistics batch needs cron: sudo apt-get install cron" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $(${PYTHON:-python3} --version)"
  "${PYTHON:-python3}" -m venv .venv
fi
stamp=.venv/.installed-$(basename "$requirements" .txt)
wanted=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "bootstrap: installing $requirements into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"
  echo "$wanted" > "$stamp"
fi
