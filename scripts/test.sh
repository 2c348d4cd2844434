#!/usr/bin/env bash
# The test suite: real MariaDB (DATABASE_URL, default mysql://root@127.0.0.1:3306/firstcome; the
# tests use test_firstcome) and a real broker process the fixtures start. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
exec .venv/bin/python -m pytest "$@"
