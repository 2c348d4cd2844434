"""Sold out at the door: once a campaign's stock is 0 (it never grows again), a participation is
answered 409 sold_out at once on both paths, nothing is published, and the refusals are counted
in memory and flushed per campaign and day to the statistics."""
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from django.conf import settings
from django.db.models import Count
from rest_framework.test import APIClient

from campaigns.refusals import SoldOutRefusals
from campaigns.models import Campaign, Participation
from monitoring.selectors import monitoring_snapshot
from stats.selectors import sold_out_refusals_by_day, sold_out_refusals_total
from stats.services import sold_out_refusals_add
from testsupport.factories import CampaignFactory
from testsupport.kafka import read_topic
from testsupport.polling import poll
from testsupport.web import call, metric_value, scrape_metrics, start_gunicorn
from testsupport.identity import ParticipantClient

pytestmark = [pytest.mark.django_db(transaction=True)]


def sold_out_campaign():
    campaign = CampaignFactory(total_stock=1)
    # What the decision does when it gives the last unit (the only writer of the stock).
    Campaign.objects.for_decision().filter(pk=campaign.pk).update(remaining_stock=0)
    return campaign


@pytest.mark.slow
def test_a_throttled_request_on_a_sold_out_campaign_is_a_429_not_counted_as_a_refusal(processes, child_env):
    """Only a 409 sent is a refusal at the door: requests past the user's rate are answered 429
    (by Django, after the fast path's throttle said no) and are not counted: the Prometheus counter
    and the daily statistics' count are recorded by the same call (campaigns.refusals), made only
    where a 409 is sent."""
    campaign = sold_out_campaign()
    _, base_url = start_gunicorn(processes, child_env(FIRSTCOME_PARTICIPATION_RATE="2/min"), workers=1)
    statuses = [call("POST", f"{base_url}/api/campaigns/{campaign.pk}/participations", body={"user_id": "eager"})[0]
                for _ in range(5)]
    assert statuses == [409, 409, 429, 429, 429]
    assert metric_value(scrape_metrics(base_url), "firstcome_sold_out_refusals_total") == 2


@pytest.mark.slow
def test_both_paths_refuse_a_sold_out_campaign_alike_and_publish_nothing(processes, child_env, settings):
    campaign, open_campaign = sold_out_campaign(), CampaignFactory()
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    path = f"/api/campaigns/{campaign.pk}/participations"
    served = call("POST", base_url + path, body={"user_id": "late"})
    response = ParticipantClient().post(path, {"user_id": "later"}, format="json")
    assert served == (response.status_code, response.json()) == (
        409, {"detail": f"campaign {campaign.pk} is sold out", "code": "sold_out"})
    samples = scrape_metrics(base_url)
    assert metric_value(samples, "firstcome_ingest_requests_total", answer="sold_out") == 1
    assert metric_value(samples, "firstcome_sold_out_refusals_total") == 1
    # A marker sent last is read for: a refused request published on the way would stand before it.
    call("POST", f"{base_url}/api/campaigns/{open_campaign.pk}/participations", body={"user_id": "marker"})
    messages = read_topic(settings.FIRSTCOME_TOPIC, until=lambda got: any(b'"marker"' in m.value for m in got))
    assert len(messages) == 1


def test_refusals_are_written_once_per_campaign_and_day_per_flush():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first, second = sold_out_campaign(), sold_out_campaign()
    refusals = SoldOutRefusals(interval_s=3600)
    refusals.sink = sold_out_refusals_add
    for _ in range(500):
        refusals.record(first.pk)
    refusals.record(second.pk)
    with CaptureQueriesContext(connection) as queries:
        refusals.flush()
    # One multi-row upsert, whatever the number of requests (the rest is the connection's set-up).
    assert [q["sql"].split()[0] for q in queries.captured_queries if "refusals" in q["sql"]] == ["INSERT"]
    for _ in range(7):
        refusals.record(first.pk)
    refusals.flush()
    refusals.flush()  # nothing new: nothing written
    assert sold_out_refusals_total(first.pk) == 507 and sold_out_refusals_total(second.pk) == 1
    assert list(sold_out_refusals_by_day(first.pk).values()) == [507]
    assert monitoring_snapshot(first.pk)["refused_sold_out"] == 507


def test_a_process_that_exits_without_the_servers_graceful_stop_writes_its_counts(child_env):
    """runserver, another WSGI server or a script: no flush interval passes, the exit writes them."""
    campaign = sold_out_campaign()
    record = f"from campaigns.refusals import sold_out_refusals as r\nfor _ in range(3): r.record({campaign.pk})"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", record], cwd=settings.BASE_DIR, check=True,
                   env=child_env(FIRSTCOME_REFUSALS_FLUSH_S="3600"), timeout=120)
    assert sold_out_refusals_total(campaign.pk) == 3


def test_counts_are_kept_when_the_write_fails():
    refusals = SoldOutRefusals(interval_s=3600)

    def failing(counts):
        raise RuntimeError("database down")

    refusals.sink = failing
    refusals.record(7)
    refusals.flush()
    assert sum(refusals.pending().values()) == 1
    refusals.sink = lambda counts: None
    refusals.flush()
    assert refusals.pending() == {}


def post_timed(base_url, campaign_id, user):
    started = datetime.now(timezone.utc)
    status, body = call("POST", f"{base_url}/api/campaigns/{campaign_id}/participations", body={"user_id": user})
    return status, body, started, datetime.now(timezone.utc)


@pytest.mark.slow
def test_a_burst_after_the_last_unit_is_refused_and_no_request_that_could_win_is(processes, child_env):
    stock, burst = 50, 2000
    campaign, warm_up = CampaignFactory(total_stock=stock), CampaignFactory()
    env = child_env(FIRSTCOME_REFUSALS_FLUSH_S="0.5")
    _, base_url = start_gunicorn(processes, env, workers=1)
    processes("consume_firstcome", env=env)
    call("POST", f"{base_url}/api/campaigns/{warm_up.pk}/participations", body={"user_id": "warm"})
    poll(lambda: Participation.objects.filter(campaign=warm_up).exists(), timeout=30, message="consumer deciding")

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: post_timed(base_url, campaign.pk, f"b-{i:04d}"), range(burst)))
    accepted = [a for a in answers if a[0] == 202]
    refused = [a for a in answers if a[0] == 409]
    assert len(accepted) + len(refused) == burst, {a[0] for a in answers}
    assert refused and all(body["code"] == "sold_out" for _, body, *_ in refused)
    poll(lambda: Participation.objects.filter(campaign=campaign).count() == len(accepted), timeout=60,
         message="every accepted request decided")
    counts = dict(Participation.objects.filter(campaign=campaign).values_list("status").annotate(n=Count("id"))
                  .order_by())
    assert counts.get("SUCCESS") == stock
    last_unit = Participation.objects.filter(campaign=campaign, status="SUCCESS").latest("decided_at").decided_at
    # Each refusal was answered after the decision that took the last unit (its commit follows
    # decided_at); its request went out no earlier than the first answer after that decision.
    assert min(answered for *_, answered in refused) >= last_unit
    poll(lambda: sold_out_refusals_total(campaign.pk) == len(refused), timeout=10, message="refusals flushed")
    assert metric_value(scrape_metrics(base_url), "firstcome_sold_out_refusals_total") == len(refused)
