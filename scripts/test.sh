#!/usr/bin/env bash
# The test suite: real MariaDB (DATABASE_URL, default mysql://root@127.0.0.1:3306/firstcome; the
# tests use test_firstcome) and a real broker process the fixtures start. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
# The dashboard's browser test drives Debian's Chromium through chromedriver (Selenium). Without
# them, or without root to install them, that one test is skipped and says why.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing chromium and chromium-driver (the dashboard's browser test)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } ||
      echo "test: could not install chromium; the browser test will be skipped" >&2
  else
    echo "test: chromium and chromium-driver are missing; the browser test will be skipped" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
