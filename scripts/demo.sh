#!/usr/bin/env bash
# One command on a fresh machine: install, migrate, start the embedded broker, the web server and
# the consumer, run the original burst (100 users, stock 50) and keep the stack up until Ctrl-C.
# With DATABASE_URL unset it uses a SQLite file in var/; with KAFKA_BOOTSTRAP_SERVERS unset it
# starts the embedded broker. Extra arguments go to `manage.py run_demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python manage.py run_demo "$@"
