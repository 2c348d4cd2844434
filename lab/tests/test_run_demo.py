"""The README's first command, as a fresh machine runs it: SQLite file, embedded broker."""
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

# What the group join alone took before the demo waited for it (about half the session timeout).
GROUP_JOIN_MS = settings.KAFKA_SESSION_TIMEOUT_MS / 2


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "DJANGO_SETTINGS_MODULE")}
    env.update(FIRSTCOME_VAR_DIR=str(tmp_path_factory.mktemp("demo")), PYTHONUNBUFFERED="1")
    result = subprocess.run(
        [sys.executable, "manage.py", "run_demo", "--exit", "--port", "0"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_demo_shows_50_success_50_sold_out_0_duplicates(demo):
    assert "database: sqlite3" in demo
    assert "embedded Tansu" in demo
    assert "=> 50 SUCCESS / 50 SOLD_OUT / 0 duplicates issued" in demo
    # Once the web tier knows the stock is gone it refuses at the door (409, nothing queued).
    accepted = int(re.search(r"requests accepted \(202\) +(\d+)", demo)[1])
    at_door = int(re.search(r"sold out at the door +(\d+)", demo)[1])
    assert accepted + at_door == 100, demo
    stats = re.search(r": 50 SUCCESS, (\d+) SOLD_OUT, 0 DUPLICATE", demo)  # consume_stats → run_stats_batch
    assert stats and int(stats[1]) + at_door == 50, demo


def test_demo_prints_receipt_to_decision_latency_well_under_the_group_join(demo):
    found = re.search(r"receipt -> decision +p50 (\d+) ms, p99 (\d+) ms", demo)
    assert found, demo
    p50, p99 = int(found[1]), int(found[2])
    assert p50 <= p99
    assert p50 < GROUP_JOIN_MS / 5, demo  # the burst started after the consumer joined its group
