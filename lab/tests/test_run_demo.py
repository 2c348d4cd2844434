"""The README's first command, as a fresh machine runs it: SQLite file, embedded broker."""
import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow


def test_demo_shows_50_success_50_sold_out_0_duplicates(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "DJANGO_SETTINGS_MODULE")}
    env.update(FIRSTCOME_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    result = subprocess.run(
        [sys.executable, "manage.py", "run_demo", "--exit", "--port", "0"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "database: sqlite3" in result.stdout
    assert "embedded Tansu" in result.stdout
    assert "=> 50 SUCCESS / 50 SOLD_OUT / 0 duplicates issued" in result.stdout
    assert "requests accepted (202)  100" in result.stdout
    assert ": 50 SUCCESS, 50 SOLD_OUT, 0 DUPLICATE" in result.stdout  # consume_stats → run_stats_batch
