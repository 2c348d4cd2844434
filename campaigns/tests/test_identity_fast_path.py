"""Identity on the event loop (campaigns/ingest.py, campaigns/answers.py) through gunicorn: the
fast path takes the user from the token, refuses a bad token itself (401, counted, nothing
published), and hands a decided result only to its owner; a thief's lookups get the answers of
ids and users that do not exist; the code is in no log line or metric. The DRF views answer the same (test_participant_identity.py)."""
import urllib.request

import pytest

from testsupport.factories import CampaignFactory
from testsupport.identity import bearer
from testsupport.kafka import read_topic
from testsupport.polling import poll
from testsupport.web import call, metric_value, scrape_metrics, start_gunicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_fast_path_acts_for_the_tokens_user_and_shows_results_to_their_owner_only(processes, child_env, settings):
    campaign = CampaignFactory(total_stock=1)
    web, base_url = start_gunicorn(processes, child_env(), workers=1)
    consumer = processes("consume_firstcome")
    participate = f"{base_url}/api/campaigns/{campaign.pk}/participations"

    forged = {"Authorization": "Bearer " + bearer("alice")["Authorization"].split()[1][:-4] + "AAAA"}
    status, body = call("POST", participate, body={"user_id": "alice"}, headers=forged)
    assert (status, body["code"]) == (401, "invalid_token")
    status, body = call("POST", participate, body={"user_id": "alice"}, headers={"Authorization": "Basic eDp5"})
    assert (status, body["code"]) == (401, "not_authenticated")
    status, body = call("POST", participate, body={"user_id": "mallory"}, headers=bearer("alice"))
    assert (status, body["code"]) == (403, "not_your_user_id")

    status, accepted = call("POST", participate, body={}, headers=bearer("alice"))  # no user_id: the token's
    assert status == 202
    samples = scrape_metrics(base_url)
    assert metric_value(samples, "firstcome_ingest_requests_total", answer="unauthenticated") == 2
    assert metric_value(samples, "firstcome_ingest_requests_total", answer="accepted") == 1
    [message] = read_topic(settings.FIRSTCOME_TOPIC, expected=1)
    assert b'"user_id":"alice"' in message.value  # only the accepted request was published, as alice

    result = f"{base_url}/api/participations/{accepted['request_id']}"
    poll(lambda: call("GET", result, headers=bearer("alice"))[1]["status"] != "PENDING", timeout=30,
         message="alice's decision")
    status, mine = call("GET", result + "?wait=5", headers=bearer("alice"))
    assert status == 200 and mine["user_id"] == "alice" and len(mine["coupon_code"]) == 16
    never = f"{base_url}/api/participations/00000000-0000-4000-8000-000000000000"
    for path in (result, result + "?wait=1"):
        status, stolen = call("GET", path, headers=bearer("thief"))
        assert (status, stolen) == (404, call("GET", never, headers=bearer("thief"))[1])
    by_user = f"{base_url}/api/campaigns/{campaign.pk}/participations/alice"
    assert call("GET", by_user, headers=bearer("alice"))[1]["coupon_code"] == mine["coupon_code"]
    status, stolen = call("GET", by_user, headers=bearer("thief"))
    assert status == 404 and mine["coupon_code"] not in str(stolen)
    status, body = call("GET", result, headers=forged)
    assert status == 401
    # The code reached its owner only: no log line of the web tier or the consumer, no metric.
    metrics_page = urllib.request.urlopen(f"{base_url}/metrics", timeout=5).read().decode()
    for text in (web.log_text(), consumer.log_text(), metrics_page):
        assert mine["coupon_code"] not in text
