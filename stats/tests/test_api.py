"""The statistics API against MariaDB: decision events stored the way the statistics consumer
stores them (stats.services.decision_events_store, with the factory's events), the batch run over HTTP, and who may ask."""
from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from stats import services
from stats.models import BatchRun
from testsupport.factories import CampaignFactory, decision_events, staff_account

pytestmark = pytest.mark.django_db(transaction=True)


def client_as(role):
    user = staff_account(f"{role}-user", "pw-for-tests-only-1", role=role)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def day_with_events():
    campaign = CampaignFactory(total_stock=2)
    day = timezone.localdate() - timedelta(days=1)
    noon = timezone.make_aware(datetime.combine(day, time(12)))
    services.decision_events_store(decision_events(campaign, {"SUCCESS": 2, "SOLD_OUT": 1, "DUPLICATE": 1},
                                                   received_at=noon))
    return campaign, day


def test_a_manager_runs_the_batch_and_reads_the_day_the_campaign_and_the_live_numbers(day_with_events):
    campaign, day = day_with_events
    manager = client_as("manager")
    started = manager.post("/api/admin/stats/batch-runs", {"from": str(day), "to": str(day)}, format="json")
    assert started.status_code == 201, started.content
    run = started.json()
    assert run["status"] == "COMPLETED" and run["rows_read"] == 4 and run["failures"] == []

    by_day = manager.get(f"/api/admin/stats/days/{day}").json()
    (row,) = by_day["campaigns"]
    assert (row["campaign_id"], row["success_count"], row["sold_out_count"], row["duplicate_count"]) == (
        campaign.pk, 2, 1, 1)
    assert row["batch_run_id"] == run["id"]

    ranged = manager.get(f"/api/admin/stats/campaigns/{campaign.pk}?from={day - timedelta(days=3)}&to={day}").json()
    assert [d["stats_date"] for d in ranged["days"]] == [str(day)]

    live = manager.get(f"/api/admin/stats/days/{day}/live").json()
    (computed,) = live["campaigns"]
    assert computed["live"] == {"success_count": 2, "sold_out_count": 1, "duplicate_count": 1}
    assert computed["batch"]["success_count"] == 2
    assert live["live_query_ms"] >= 0 and live["batch_query_ms"] >= 0

    assert manager.get(f"/api/admin/stats/batch-runs/{run['id']}").json()["status"] == "COMPLETED"
    history = manager.get("/api/admin/stats/batch-runs?limit=1").json()
    assert history["count"] == 1 and history["results"][0]["id"] == run["id"]


def test_a_till_and_a_stranger_read_no_statistics(day_with_events):
    _, day = day_with_events
    till = client_as("till")
    for path in (f"/api/admin/stats/days/{day}", "/api/admin/stats/batch-runs"):
        assert till.get(path).status_code == 403
        assert APIClient().get(path).status_code in (401, 403)
    assert till.post("/api/admin/stats/batch-runs", {"from": str(day), "to": str(day)}, format="json").status_code == 403
    assert not BatchRun.objects.exists()


def test_a_second_start_while_a_run_holds_the_lock_is_a_409(day_with_events):
    _, day = day_with_events
    other = connection.get_new_connection(connection.get_connection_params())  # another server session
    other.cursor().execute("SELECT GET_LOCK(%s, 0)", [services.run_lock_name()])
    try:
        answer = client_as("manager").post("/api/admin/stats/batch-runs", {"from": str(day), "to": str(day)},
                                           format="json")
        assert answer.status_code == 409 and answer.json()["code"] == "batch_run_in_progress"
        assert not BatchRun.objects.exists()
    finally:
        other.close()


def test_ranges_are_checked_and_capped(day_with_events):
    campaign, day = day_with_events
    manager = client_as("manager")
    backwards = manager.get(f"/api/admin/stats/campaigns/{campaign.pk}?from={day}&to={day - timedelta(days=1)}")
    assert backwards.status_code == 400 and "is after" in str(backwards.json())
    a_year = manager.get(f"/api/admin/stats/campaigns/{campaign.pk}?from={day - timedelta(days=365)}&to={day}")
    assert a_year.status_code == 400 and "at most 93 days" in str(a_year.json())
    too_long = manager.post("/api/admin/stats/batch-runs", {"from": str(day - timedelta(days=40)), "to": str(day)},
                            format="json")
    assert too_long.status_code == 400 and "at most 31 days" in str(too_long.json())
    assert manager.post("/api/admin/stats/batch-runs", {"from": "yesterday"}, format="json").status_code == 400
    assert manager.get("/api/admin/stats/days/2025-02-30").status_code == 400
    for edge in ("9999-12-31", "0001-01-01"):  # a day whose bounds no zone can represent
        assert manager.get(f"/api/admin/stats/days/{edge}/live").status_code == 400
        assert manager.post("/api/admin/stats/batch-runs", {"from": edge, "to": edge}, format="json").status_code == 400
    assert manager.get("/api/admin/stats/batch-runs/999999").status_code == 404


def test_a_campaigns_fairness_report_from_its_stored_decision_events():
    """Stock 2, four requests decided in Kafka order, but the third received (by the API) before
    the second: a winner received after a request that was sold out, counted as the partition
    experiment's metrics count it (stats.ordering, the same functions)."""
    from stats import ordering
    from stats import selectors as stats_selectors
    from stats.fairness import fairness_report
    from testsupport.factories import decision_event

    campaign = CampaignFactory(total_stock=2)
    t0 = timezone.now() - timedelta(hours=1)
    received_ms = [0, 30, 10, 40]  # the API's receipt times, in the order the decider decided them
    statuses = ["SUCCESS", "SUCCESS", "SOLD_OUT", "SOLD_OUT"]
    services.decision_events_store([
        decision_event(campaign, status, received_at=t0 + timedelta(milliseconds=ms), offset=i, user_id=f"u{i}",
                       decided_at_us=int((t0 + timedelta(milliseconds=100 + i)).timestamp() * 1_000_000))
        for i, (ms, status) in enumerate(zip(received_ms, statuses))])
    report = client_as("manager").get(f"/api/admin/stats/campaigns/{campaign.pk}/fairness").json()
    assert report["events"] == 4
    assert report["unfair_winners_by_receipt"] == 1 and report["largest_unfair_gap_ms"] == 20.0
    assert report["receipt_inversions"] == 1 and report["largest_inversion_ms"] == 20.0
    assert report["key_order_violations"] == 0 and report["switch_ratio"] == 0.0
    assert report["receipt_to_decision_p50_ms"] is not None
    events = stats_selectors.campaign_decided_events(campaign.pk)
    assert ordering.fairness(events, lambda e: e.received_at).unfair_winners == report["unfair_winners_by_receipt"]
    assert fairness_report(events).as_dict().items() <= report.items()
    assert client_as("till").get(f"/api/admin/stats/campaigns/{campaign.pk}/fairness").status_code == 403
