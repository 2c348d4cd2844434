#!/usr/bin/env bash
# The test suite: real MariaDB (DATABASE_URL, default mysql://root@127.0.0.1:3306/firstcome; the
# tests use test_firstcome) and a real broker process the fixtures start. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
# Debian tools the tests drive: Chromium + chromedriver (the dashboard's browser test) and
# shellcheck (the deploy hooks). Installed when missing and root; otherwise those tests say why
# they are skipped.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v promtool >/dev/null || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
      echo "test: could not install ${missing[*]}; the tests that need them will say so" >&2
  else
    echo "test: ${missing[*]} missing (not root): the tests that need them will say so" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
