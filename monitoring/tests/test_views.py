"""The dashboard page and the snapshot endpoint: who may see them, what bad input gets, and that
the snapshot's numbers are what the database and the broker say after a known burst."""
import threading
import time

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from campaigns import selectors
from monitoring import cpu
from lab.embedded import free_port
from streaming.topics import committed_offsets, end_offsets
from testsupport.factories import CampaignFactory
from testsupport.kafka import committed_total, read_topic
from testsupport.polling import poll
from testsupport.identity import ParticipantClient


@pytest.fixture
def staff_client(db):
    client = ParticipantClient()
    client.force_login(User.objects.create_user("ops", password="ops-secret", is_staff=True))
    return client


@pytest.mark.django_db
class TestDashboardPage:
    def test_anonymous_users_are_sent_to_the_admin_login_and_back(self, client):
        response = client.get("/dashboard/?campaign_id=3")
        assert response.status_code == 302
        assert response["Location"] == "/admin/login/?next=/dashboard/%3Fcampaign_id%3D3"

    def test_logged_in_users_who_are_not_staff_get_403(self, client):
        client.force_login(User.objects.create_user("customer", password="x"))
        assert client.get("/dashboard/").status_code == 403

    def test_staff_see_the_latest_campaign_with_the_vendored_chart_library(self, staff_client):
        CampaignFactory(name="older")
        latest = CampaignFactory(name="Spring launch")
        page = staff_client.get("/dashboard/")
        assert page.status_code == 200
        html = page.content.decode()
        assert f'data-campaign-id="{latest.pk}"' in html
        assert "Spring launch" in html and "older" in html  # both in the campaign picker
        assert '<script src="/static/vendor/uplot/uPlot.iife.min.js">' in html
        assert "//" not in "".join(line for line in html.splitlines() if "<script src" in line)  # no CDN

    def test_a_campaign_older_than_the_listed_ones_is_shown_selected(self, staff_client, monkeypatch):
        from monitoring import views

        monkeypatch.setattr(views, "CAMPAIGNS_LISTED", 1)
        old = CampaignFactory(name="old one")
        CampaignFactory(name="new one")
        html = staff_client.get(f"/dashboard/?campaign_id={old.pk}").content.decode()
        assert f'<option value="{old.pk}" selected>#{old.pk} old one</option>' in html

    def test_an_unknown_campaign_is_a_404_page_that_still_offers_the_others(self, staff_client):
        CampaignFactory(name="the real one")
        page = staff_client.get("/dashboard/?campaign_id=999999")
        assert page.status_code == 404
        assert "campaign 999999 does not exist" in page.content.decode()
        assert "the real one" in page.content.decode()

    def test_no_campaign_yet(self, staff_client):
        page = staff_client.get("/dashboard/")
        assert page.status_code == 200
        assert "No campaign yet" in page.content.decode()

    def test_the_chart_library_is_served_from_this_server(self, staff_client):
        response = staff_client.get("/static/vendor/uplot/uPlot.iife.min.js")
        assert response.status_code == 200
        assert b"uPlot" in b"".join(response.streaming_content)


@pytest.mark.django_db
class TestSnapshotErrors:
    def test_anonymous_and_non_staff_are_refused(self):
        campaign = CampaignFactory()
        assert ParticipantClient().get(f"/api/monitoring/snapshot?campaign_id={campaign.pk}").status_code == 403
        customer = ParticipantClient()
        customer.force_login(User.objects.create_user("customer", password="x"))
        assert customer.get(f"/api/monitoring/snapshot?campaign_id={campaign.pk}").status_code == 403

    @pytest.mark.parametrize("query", ["", "?campaign_id=", "?campaign_id=abc", "?campaign_id=0"])
    def test_campaign_id_must_be_a_positive_integer(self, staff_client, query):
        response = staff_client.get(f"/api/monitoring/snapshot{query}")
        assert response.status_code == 400
        assert "campaign_id" in response.json()["errors"]

    def test_unknown_campaign(self, staff_client):
        response = staff_client.get("/api/monitoring/snapshot?campaign_id=999999")
        assert response.status_code == 404
        assert response.json()["code"] == "campaign_not_found"


@pytest.mark.django_db
def test_a_broker_that_is_down_is_reported_within_the_timeout_not_a_hang(staff_client, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{free_port()}"]  # nothing listens there
    settings.MONITORING_KAFKA_TIMEOUT_MS = 500
    campaign = CampaignFactory(total_stock=7)
    threads_before = threading.active_count()
    for _ in range(5):  # the dashboard asks every second: nothing may pile up per call
        started = time.monotonic()
        response = staff_client.get(f"/api/monitoring/snapshot?campaign_id={campaign.pk}")
        assert time.monotonic() - started < 2
    assert threading.active_count() == threads_before
    assert response.status_code == 200
    snapshot = response.json()
    assert snapshot["stream"]["error"].startswith("broker unavailable")
    assert snapshot["stream"]["published"] is None
    assert snapshot["campaign"]["remaining_stock"] == 7  # the database part still answers


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_snapshot_after_a_known_burst_equals_the_database_and_the_broker(processes, kafka_topics, settings):
    kafka_topics(partitions=3)
    settings.FIRSTCOME_MESSAGE_KEY = "user"  # spread the burst over the three partitions
    staff = User.objects.create_user("ops", password="ops-secret", is_staff=True)
    api = ParticipantClient()
    api.force_login(staff)
    campaign = CampaignFactory(total_stock=40)
    other = CampaignFactory(total_stock=5)  # shares the topic: stream numbers are topic-wide
    for i in range(100):
        assert api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": f"u{i % 80}"},
                        format="json").status_code == 202
    for i in range(10):
        api.post(f"/api/campaigns/{other.pk}/participations", {"user_id": f"o{i}"}, format="json")

    before = api.get(f"/api/monitoring/snapshot?campaign_id={campaign.pk}").json()
    assert before["decisions"] == {"SUCCESS": 0, "SOLD_OUT": 0, "DUPLICATE": 0, "total": 0}
    assert before["stream"]["consumed"] == 0

    consumer = processes("consume_firstcome")
    poll(lambda: committed_total() == 110,
         message="the burst consumed and committed")
    snapshot = api.get(f"/api/monitoring/snapshot?campaign_id={campaign.pk}").json()

    # The database: 80 users for 40 coupons, 20 repeats.
    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": 40, "SOLD_OUT": 40, "DUPLICATE": 20}
    assert snapshot["decisions"] == {"SUCCESS": 40, "SOLD_OUT": 40, "DUPLICATE": 20, "total": 100}
    assert snapshot["campaign"] | {"name": None} == {
        "id": campaign.pk, "name": None, "status": "SOLD_OUT", "total_stock": 40, "remaining_stock": 0}

    # The broker: every message of the topic published and consumed, nothing left.
    stream = snapshot["stream"]
    assert stream["topic"] == settings.FIRSTCOME_TOPIC and stream["error"] is None
    assert len(read_topic(settings.FIRSTCOME_TOPIC, expected=110)) == 110
    committed = committed_offsets(settings.FIRSTCOME_GROUP_ID, settings.FIRSTCOME_TOPIC)
    assert {p["partition"]: p["committed_offset"] for p in stream["partitions"]} == committed
    assert stream["consumed"] == stream["published"] == 110 and stream["lag"] == 0
    ends = end_offsets(settings.FIRSTCOME_TOPIC)  # may trail on the embedded broker: never ahead
    assert all(p["end_offset"] >= ends[p["partition"]] for p in stream["partitions"])

    # CPU: cumulative seconds of the host and of the consumer processes, which are looked for
    # again every few seconds.
    assert snapshot["cpu"]["host"]["total_seconds"] > snapshot["cpu"]["host"]["busy_seconds"] > 0
    poll(lambda: consumer.pid in {p["pid"] for p in api.get(
        f"/api/monitoring/snapshot?campaign_id={campaign.pk}").json()["cpu"]["consumers"]},
        timeout=cpu.RESCAN_SECONDS + 5, message="the consumer process in the snapshot")
    assert consumer.stop() == 0
