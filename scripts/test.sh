#!/usr/bin/env bash
# The test suite: real MariaDB (DATABASE_URL, default mysql://root@127.0.0.1:3306/firstcome; the
# tests use test_firstcome) and a real broker process the fixtures start. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
# Debian tools the tests call: shellcheck lints the deploy hooks (scripts/codedeploy/).
if ! command -v shellcheck >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test: installing shellcheck"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
fi
exec .venv/bin/python -m pytest "$@"
