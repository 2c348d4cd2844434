"""The database server killed (SIGKILL) and restarted under load, while the broker stays up: the
web tier keeps accepting against the last campaign window it read, for FIRSTCOME_CAMPAIGN_STALE_S,
then answers 503 with Retry-After; never a 500. A real server of the test's own
(testsupport.mariadb), not a cut connection: the process is gone and its port closed."""
import json
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from django.conf import settings

from testsupport.kafka import read_topic
from testsupport.load import Load
from testsupport.polling import poll
from testsupport.web import call, metric_value, scrape_metrics, start_gunicorn

pytestmark = [pytest.mark.slow]

STALE_S = 6  # FIRSTCOME_CAMPAIGN_STALE_S for the web tier under test


def manage(env, *args) -> str:
    """manage.py against the test's own server; its last line of output."""
    run = subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return (run.stdout.strip().splitlines() or [""])[-1]


def stale_answers(base_url):
    return metric_value(scrape_metrics(base_url), "firstcome_campaign_windows_stale_total") or 0


def read_again(base_url):
    """Once the web tier reads the campaign from the database again: no stale window used for
    longer than a re-read takes (FIRSTCOME_CAMPAIGN_CACHE_S + READ_RETRY_S, 2 s)."""
    def settled():
        before = stale_answers(base_url)
        time.sleep(2.5)
        return stale_answers(base_url) == before
    poll(settled, timeout=30, message="the campaign read from the database again")


def test_the_database_server_killed_twice_mid_burst_then_for_good(processes, child_env, database_server, kafka_topics):
    database_server.sql("CREATE DATABASE firstcome CHARACTER SET utf8mb4")
    env = child_env(DATABASE_URL=database_server.url, FIRSTCOME_CAMPAIGN_STALE_S=STALE_S)
    manage(env, "migrate", "--no-input", "-v", "0")
    open_id, closed_id = json.loads(manage(env, "shell", "-c", (
        "import json; from datetime import timedelta; from django.utils import timezone; "
        "from campaigns.models import Campaign; now = timezone.now(); "
        "o = Campaign.objects.create(name='open', total_stock=100000, remaining_stock=100000); "
        "c = Campaign.objects.create(name='closed', total_stock=10, remaining_stock=10, "
        "starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1)); print(json.dumps([o.pk, c.pk]))")))
    web, base_url = start_gunicorn(processes, env, workers=1)  # one cache of windows: what it knew is what it answers
    assert call("POST", f"{base_url}/api/campaigns/{closed_id}/participations", body={"user_id": "early"})[0] == 409
    load = Load(base_url, SimpleNamespace(pk=open_id))  # Load needs the campaign's id only
    load.start()
    try:
        poll(lambda: sum(a.status == 202 for a in load.answers) >= 200, timeout=60, message="load flowing")
        outages = []
        for _ in range(2):  # down 3 s, twice, mid-burst
            database_server.kill()
            down_at = time.monotonic()
            time.sleep(3)
            database_server.start()
            outages.append((down_at, time.monotonic()))
            read_again(base_url)
        assert stale_answers(base_url) > 0  # the web tier met the outage and used the window it knew
        during = [a for a in load.answers for start, end in outages if a.sent > start + 0.5 and a.answered < end]
        assert during and {a.status for a in during} == {202}, sorted({(a.status, a.code) for a in during})
        # A closed campaign stays closed while the database is away.
        assert call("POST", f"{base_url}/api/campaigns/{closed_id}/participations", body={"user_id": "in-time"})[0] == 409
        database_server.kill()
        status, body = call("POST", f"{base_url}/api/campaigns/{closed_id}/participations", body={"user_id": "late"})
        assert status == 409 and body["code"] == "campaign_not_open", body
        # Past FIRSTCOME_CAMPAIGN_STALE_S without the database: 503 with Retry-After, at once.
        gone_at = time.monotonic()
        poll(lambda: any(a.status == 503 and a.sent > gone_at for a in load.answers), timeout=STALE_S + 15,
             message="503 once the window is too old")
        status, body = call("POST", f"{base_url}/api/campaigns/{open_id}/participations", body={"user_id": "after-stale"})
        assert status == 503 and body["code"] == "database_unavailable", body
        database_server.start()
        back_at = time.monotonic()
        poll(lambda: sum(a.status == 202 and a.sent > back_at for a in load.answers) >= 100, timeout=30,
             message="202s once the database is back")
    finally:
        answers = load.stop()
    statuses = {a.status for a in answers}
    assert statuses <= {202, 503}, sorted(statuses)  # never a 500, never a hang
    accepted = [a for a in answers if a.status == 202]
    topic = read_topic(settings.FIRSTCOME_TOPIC, expected=len(accepted), timeout=60)
    assert {json.loads(m.value)["request_id"] for m in topic} >= {a.request_id for a in accepted}
    print(f"database killed 3 times: {len(answers)} requests, {len(accepted)} accepted, "
          f"{sum(a.status == 503 for a in answers)} answered 503 after {STALE_S} s without the database")
