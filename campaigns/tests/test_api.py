"""The HTTP contract, against the real broker: 202 only after Kafka acknowledged."""
import json
import time
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns import services
from campaigns.models import Campaign, Participation
from lab.embedded import free_port
from streaming.producer import reset_producer
from testsupport.factories import CampaignFactory, participation_request, staff_account
from testsupport.kafka import read_topic
from testsupport.identity import ParticipantClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return ParticipantClient()


@pytest.fixture
def staff(db):
    return staff_account("staff", "staff-pass", role="manager")


def test_participation_is_published_and_answered_202(api, kafka_topics, settings):
    campaign = CampaignFactory()
    response = api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": "alice"}, format="json")

    assert response.status_code == 202
    assert response.json()["status"] == "PENDING"
    request_id = response.json()["request_id"]
    [message] = read_topic(settings.FIRSTCOME_TOPIC, expected=1)
    body = json.loads(message.value)
    assert (body["request_id"], body["campaign_id"], body["user_id"]) == (request_id, campaign.pk, "alice")
    assert message.key == str(campaign.pk).encode()  # keyed by campaign by default
    assert Participation.objects.count() == 0  # nothing written on the hot path


def test_message_key_can_be_the_user(api, kafka_topics, settings):
    settings.FIRSTCOME_MESSAGE_KEY = "user"
    campaign = CampaignFactory()
    api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": "bob"}, format="json")
    [message] = read_topic(settings.FIRSTCOME_TOPIC, expected=1)
    assert message.key == b"bob"


def test_result_is_pending_until_decided_then_final(api, kafka_topics):
    campaign = CampaignFactory(total_stock=1)
    request_id = api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": "carol"},
                          format="json").json()["request_id"]

    pending = api.get(f"/api/participations/{request_id}")
    assert pending.status_code == 200
    assert pending.json() == {"request_id": request_id, "campaign_id": None, "user_id": None, "status": "PENDING",
                              "coupon_code": None}

    services.participation_decide(participation_request(campaign, "carol", request_id=uuid.UUID(request_id)))
    decided = api.get(f"/api/participations/{request_id}").json()
    code = Participation.objects.get(request_id=request_id).coupon_code
    assert decided == {"request_id": request_id, "campaign_id": campaign.pk, "user_id": "carol", "status": "SUCCESS",
                       "coupon_code": code}
    assert len(code) == 16
    decision = api.get(f"/api/campaigns/{campaign.pk}/participations/carol")
    assert decision.status_code == 200 and decision.json()["status"] == "SUCCESS"


def test_unknown_and_malformed_request_ids(api):
    assert api.get(f"/api/participations/{uuid.uuid4()}").status_code == 404  # never issued here
    response = api.get("/api/participations/not-a-uuid")
    assert response.status_code == 400 and "request_id" in response.json()["errors"]


def test_user_decision_is_404_until_there_is_one(api):
    campaign = CampaignFactory()
    assert api.get(f"/api/campaigns/{campaign.pk}/participations/nobody").status_code == 404
    assert api.get("/api/campaigns/999999/participations/nobody").status_code == 404


def test_campaign_detail(api):
    campaign = CampaignFactory(total_stock=10, remaining_stock=4)
    body = api.get(f"/api/campaigns/{campaign.pk}").json()
    assert body == {"id": campaign.pk, "name": campaign.name, "total_stock": 10, "remaining_stock": 4,
                    "starts_at": None, "ends_at": None, "status": "OPEN"}
    assert api.get("/api/campaigns/999999").status_code == 404


def test_in_body_mode_a_body_without_user_id_is_400(api, settings):
    settings.FIRSTCOME_IDENTITY = "body"  # the original's trust: the body is all there is
    response = api.post(f"/api/campaigns/{CampaignFactory().pk}/participations", {}, format="json")
    assert response.status_code == 400 and "user_id" in response.json()["errors"]


@pytest.mark.parametrize("body, field", [
    ({"user_id": ""}, "user_id"),
    ({"user_id": "x" * 65}, "user_id"),
    ({"user_id": "tab\there"}, "user_id"),
    ({"user_id": ["list"]}, "user_id"),
])
def test_bad_participation_body_is_400_naming_the_field(api, body, field):
    campaign = CampaignFactory()
    response = api.post(f"/api/campaigns/{campaign.pk}/participations", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_not_json_is_400(api):
    campaign = CampaignFactory()
    response = api.post(f"/api/campaigns/{campaign.pk}/participations", "{nope", content_type="application/json")
    assert response.status_code == 400 and "detail" in response.json()


def test_unknown_campaign_is_404(api):
    response = api.post("/api/campaigns/424242/participations", {"user_id": "a"}, format="json")
    assert response.status_code == 404 and "424242" in response.json()["detail"]


def test_campaign_not_open_yet_or_closed_is_409(api):
    now = timezone.now()
    early = CampaignFactory(starts_at=now + timedelta(hours=1))
    late = CampaignFactory(starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1))
    for campaign, word in ((early, "opens"), (late, "closed")):
        response = api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": "a"}, format="json")
        assert response.status_code == 409
        assert word in response.json()["detail"]


def test_broker_down_is_503_within_a_couple_of_seconds(api, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{free_port()}"]  # nothing listens there
    reset_producer()
    campaign = CampaignFactory()
    started = time.monotonic()
    response = api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": "a"}, format="json")
    elapsed = time.monotonic() - started
    reset_producer()
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "request_id" not in response.json()
    assert elapsed < 3


# --- the admin API -------------------------------------------------------------------------

def test_admin_creates_campaign_with_basic_auth(api, staff):
    api.credentials(HTTP_AUTHORIZATION="Basic " + __import__("base64").b64encode(b"staff:staff-pass").decode())
    response = api.post("/api/admin/campaigns", {"name": "Launch", "total_stock": 50,
                                                 "starts_at": "2026-01-01T00:00:00+09:00"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["total_stock"] == body["remaining_stock"] == 50
    assert Campaign.objects.get(pk=body["id"]).starts_at.isoformat() == "2025-12-31T15:00:00+00:00"
    listed = api.get("/api/admin/campaigns").json()
    assert [c["id"] for c in listed] == [body["id"]]


def test_admin_api_with_session_auth_requires_csrf(staff):
    browser = APIClient(enforce_csrf_checks=True)
    browser.login(username="staff", password="staff-pass")
    assert browser.post("/api/admin/campaigns", {"name": "x", "total_stock": 1}, format="json").status_code == 403
    assert browser.get("/api/admin/campaigns").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"total_stock": 5}, "name"),
    ({"name": "x", "total_stock": 0}, "total_stock"),
    ({"name": "x", "total_stock": -3}, "total_stock"),
    ({"name": "x", "total_stock": 10 ** 12}, "total_stock"),
    ({"name": "x", "total_stock": "many"}, "total_stock"),
    ({"name": "x", "total_stock": 5, "starts_at": "yesterday"}, "starts_at"),
    ({"name": "x", "total_stock": 5, "starts_at": "2026-01-02T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}, "ends_at"),
])
def test_admin_create_rejects_bad_bodies(api, staff, body, field):
    api.force_authenticate(staff)
    response = api.post("/api/admin/campaigns", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Campaign.objects.count() == 0


def test_admin_api_refuses_anonymous_and_non_staff(api, db):
    assert api.get("/api/admin/campaigns").status_code in (401, 403)
    assert api.post("/api/admin/campaigns", {"name": "x", "total_stock": 1}, format="json").status_code in (401, 403)
    api.force_authenticate(User.objects.create_user("plain", password="p"))
    assert api.post("/api/admin/campaigns", {"name": "x", "total_stock": 1}, format="json").status_code == 403
    assert Campaign.objects.count() == 0


def test_unknown_path_is_json_404(api):
    response = api.get("/api/nothing-here")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
