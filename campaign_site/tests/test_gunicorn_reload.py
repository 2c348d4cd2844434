"""gunicorn with gunicorn.conf.py under a steady participation stream (the real k6), reloaded with
SIGHUP twice meanwhile: not one request fails, and every accepted one is decided."""
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from campaigns import selectors
from campaigns.models import Participation
from testsupport.factories import CampaignFactory
from testsupport.polling import poll
from lab.stack import k6_users, write_tokens
from testsupport.web import start_gunicorn, workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
K6 = Path(sys.executable).parent / "k6"


def worker_pids(web):
    return {child.pid for child in workers(web)}


def metrics_dirs():
    return set(Path(tempfile.gettempdir()).glob("firstcome-web-metrics-*"))


def test_sighup_reloads_during_a_participation_stream_lose_nothing(processes, child_env, tmp_path):
    dirs_before = metrics_dirs()
    campaign = CampaignFactory(total_stock=100_000)
    access_log = tmp_path / "access.log"
    web, base_url = start_gunicorn(processes, child_env(GUNICORN_ACCESS_LOG=str(access_log)), workers=2)
    processes("consume_firstcome")
    summary = tmp_path / "summary.json"
    k6 = subprocess.Popen(
        [str(K6), "run", "--quiet", "-e", f"BASE_URL={base_url}", "-e", f"CAMPAIGN_ID={campaign.pk}",
         "-e", "RATE=60", "-e", "DURATION=8s", "-e", f"SUMMARY={summary}",
         "-e", f"TOKENS_FILE={write_tokens(tmp_path / 'tokens.json', k6_users(1000, prefix='steady'))}",
         str(settings.BASE_DIR / "k6" / "steady.js")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for reload in (1, 2):
            served = reload * 100
            poll(lambda: access_log.exists() and access_log.read_text().count("/participations") >= served,
                 timeout=30, message=f"{served} participations served")
            old = worker_pids(web)
            web.send(signal.SIGHUP)
            # new workers up, every old one gone (after finishing what it had)
            poll(lambda: len(worker_pids(web)) == 2 and not worker_pids(web) & old, timeout=30, message="workers replaced")
        output, _ = k6.communicate(timeout=60)
    finally:
        k6.kill()
    assert k6.returncode == 0, output  # thresholds: no failed request, every check passed
    metrics = json.loads(summary.read_text())["metrics"]
    sent, accepted = metrics["http_reqs"]["values"]["count"], metrics["accepted"]["values"]["count"]
    assert sent == accepted >= 400, output
    assert metrics["http_req_failed"]["values"]["passes"] == 0
    assert web.log_text().count("Handling signal: hup") == 2

    poll(lambda: Participation.objects.filter(campaign=campaign).count() == accepted, timeout=60,
         message="every accepted participation decided")
    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": accepted, "SOLD_OUT": 0, "DUPLICATE": 0}
    assert web.stop() == 0
    assert metrics_dirs() == dirs_before  # the master's metrics directory went with it, reloads or not
