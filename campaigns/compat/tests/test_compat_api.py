"""The original contract's request and answer shapes, endpoint by endpoint, through Django's test
client (the views; the fast path is compared with them in test_compat_fast_path.py)."""
import json
import re

import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st
from rest_framework.test import APIClient, APIRequestFactory

from campaigns import services, submission
from campaigns.compat.serializers import MAX_USER_ID
from campaigns.compat.views import LabOnlyView
from campaigns.models import Campaign
from campaigns.refusals import SoldOutRefusals
from testsupport.factories import CampaignFactory, participation_request, staff_account
from testsupport.kafka import read_topic
from testsupport.identity import ParticipantClient

ENVELOPE = {"success", "message", "errorCode", "data"}
REQUEST_ID = re.compile(r"request_id=([0-9a-f-]{36})$")


@pytest.fixture
def api():
    return ParticipantClient()


@pytest.fixture
def staff_api(db):
    client = ParticipantClient()
    client.force_authenticate(staff_account("staff", "staff-pass", role="manager"))
    return client


def assert_refused(response, status, code):
    body = response.json()
    assert response.status_code == status, body
    assert set(body) >= ENVELOPE | {"detail", "code"}
    assert (body["success"], body["data"], body["code"]) == (False, None, code)
    assert body["message"] == body["detail"]
    return body


@pytest.mark.django_db
def test_participation_answers_200_with_the_envelope_and_publishes_the_decimal_user_id(api, kafka_topics, settings):
    campaign = CampaignFactory()
    response = api.post(f"/api/campaigns/{campaign.pk}/participation", {"userId": 12345}, format="json")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == ENVELOPE and (body["success"], body["errorCode"], body["data"]) == (True, None, None)
    request_id = REQUEST_ID.search(body["message"])[1]
    (message,) = read_topic(settings.FIRSTCOME_TOPIC, expected=1)
    assert json.loads(message.value) | {"received_at": 0} == {
        "request_id": request_id, "campaign_id": campaign.pk, "user_id": "12345", "received_at": 0}


HOSTILE_USER_IDS = st.one_of(
    st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False),
    st.integers(max_value=-1), st.integers(min_value=MAX_USER_ID + 1),
    st.text().filter(lambda s: not re.fullmatch(r"0|[1-9][0-9]{0,18}", s) or int(s) > MAX_USER_ID),
    st.integers(1, 10**6).map(lambda n: f"0{n}"), st.integers(0, 10**6).map(lambda n: f" {n}"),
    st.lists(st.integers(0, 9), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@pytest.mark.django_db
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user_id=HOSTILE_USER_IDS)
def test_bools_floats_negatives_huge_and_other_spellings_are_a_400_envelope(api, user_id):
    campaign = Campaign.objects.first() or CampaignFactory()
    response = api.post(f"/api/campaigns/{campaign.pk}/participation", {"userId": user_id}, format="json")
    body = assert_refused(response, 400, "invalid")
    assert body["errorCode"] == "COMMON_002" and list(body["errors"]) == ["userId"]


@pytest.mark.django_db
def test_a_missing_user_id_an_unknown_or_closed_campaign_are_envelopes(api, settings):
    closed = CampaignFactory(ends_at="2020-01-01T00:00:00Z", starts_at="2019-01-01T00:00:00Z")
    settings.FIRSTCOME_IDENTITY = "body"  # a missing userId is a 400 where the body says who; else the token does
    assert_refused(api.post("/api/campaigns/1/participation", {"user_id": "12345"}, format="json"), 400, "invalid")
    settings.FIRSTCOME_IDENTITY = "jwt"
    assert_refused(api.post("/api/campaigns/999999/participation", {"userId": 1}, format="json"),
                   404, "campaign_not_found")
    body = assert_refused(api.post(f"/api/campaigns/{closed.pk}/participation", {"userId": 1}, format="json"),
                          409, "campaign_not_open")
    assert body["errorCode"] == "CAMPAIGN_004"
    assert_refused(api.post("/api/campaigns/1/participation", "userId=1",
                            content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type")


@pytest.mark.django_db
def test_a_sold_out_campaign_is_a_409_campaign_003_envelope_counted_as_a_refusal(api, kafka_topics, settings,
                                                                                 monkeypatch):
    # A counter of its own: the shared one is flushed (and emptied) every few seconds.
    refusals = SoldOutRefusals(interval_s=3600)
    monkeypatch.setattr(submission, "sold_out_refusals", refusals)
    campaign = CampaignFactory(total_stock=1)
    Campaign.objects.for_decision().filter(pk=campaign.pk).update(remaining_stock=0)  # as the decision does
    body = assert_refused(api.post(f"/api/campaigns/{campaign.pk}/participation", {"userId": 7}, format="json"),
                          409, "sold_out")
    assert body["errorCode"] == "CAMPAIGN_003"
    assert refusals.pending() == {(campaign.pk, timezone.localdate()): 1}
    # Nothing queued: a marker accepted afterwards is the topic's first message.
    marker_campaign = CampaignFactory()
    assert api.post(f"/api/campaigns/{marker_campaign.pk}/participation", {"userId": 8}, format="json").status_code == 200
    messages = read_topic(settings.FIRSTCOME_TOPIC, expected=1)
    assert [json.loads(m.value)["campaign_id"] for m in messages] == [marker_campaign.pk]


@pytest.mark.django_db
def test_a_user_past_the_rate_is_a_429_envelope_with_retry_after(api, kafka_topics, settings):
    settings.FIRSTCOME_PARTICIPATION_RATE = "2/m"
    campaign = CampaignFactory()
    answers = [api.post(f"/api/campaigns/{campaign.pk}/participation", {"userId": 42}, format="json")
               for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_refused(answers[2], 429, "throttled")
    assert 0 < int(answers[2]["Retry-After"]) <= 60


@pytest.mark.django_db
@given(user_id=st.integers(0, MAX_USER_ID))
@hsettings(max_examples=30, deadline=None)
def test_an_integer_user_id_and_its_decimal_string_read_as_the_same_user_id(user_id):
    from campaigns.compat.serializers import USER_ID_FIELD

    assert USER_ID_FIELD.run_validation(user_id) == USER_ID_FIELD.run_validation(str(user_id)) == str(user_id)


@pytest.mark.django_db
def test_status_has_the_originals_fields_from_the_decisions(api):
    campaign = CampaignFactory(total_stock=3)
    for user in ["1", "2", "3", "4", "1"]:
        services.participation_decide(participation_request(campaign, user))
    response = api.get(f"/api/campaigns/{campaign.pk}/status")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "요청이 성공했습니다.", "errorCode": None, "data": {
        "campaignId": campaign.pk, "campaignName": campaign.name, "totalStock": 3, "currentStock": 0,
        "successCount": 3, "failCount": 2, "totalParticipation": 5, "stockUsageRate": "100.00%"}}
    assert_refused(api.get("/api/campaigns/999999/status"), 404, "campaign_not_found")


@pytest.mark.django_db
def test_the_seed_quick_start_create_needs_staff_and_then_answers_the_originals_shape(api, staff_api):
    quick_start = {"name": "선착순 이벤트", "totalStock": 100}
    body = assert_refused(api.post("/api/admin/campaigns", quick_start, format="json"), 403, "not_authenticated")
    assert "staff credentials" in body["message"]

    response = staff_api.post("/api/admin/campaigns", quick_start, format="json")
    body = response.json()
    assert response.status_code == 200 and (body["success"], body["message"]) == (True, "캠페인이 생성되었습니다.")
    assert set(body["data"]) == {"id", "name", "totalStock", "currentStock", "status", "createdAt"}
    assert (body["data"]["name"], body["data"]["totalStock"], body["data"]["currentStock"]) == ("선착순 이벤트", 100, 100)
    bad = assert_refused(staff_api.post("/api/admin/campaigns", {"name": "x", "totalStock": 0}, format="json"),
                         400, "invalid")
    assert list(bad["errors"]) == ["totalStock"]


@pytest.mark.django_db
def test_the_native_admin_api_keeps_its_shape_beside_the_original(staff_api):
    native = staff_api.post("/api/admin/campaigns", {"name": "native", "total_stock": 5}, format="json")
    assert native.status_code == 201 and native.json()["total_stock"] == 5
    refused = staff_api.post("/api/admin/campaigns", {"name": "x"}, format="json")
    assert refused.status_code == 400 and "total_stock" in refused.json()["errors"]
    assert isinstance(staff_api.get("/api/admin/campaigns").json(), list)
    listed = staff_api.get("/api/admin/campaigns?contract=original").json()
    assert listed["success"] is True and listed["data"][0]["totalStock"] == 5


def schema_ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


@pytest.mark.django_db
def test_the_openapi_document_gives_both_contracts_of_the_shared_admin_path(api):
    document = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations, schemas = document["paths"]["/api/admin/campaigns"], document["components"]["schemas"]
    create = operations["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert schemas[body["$ref"].rsplit("/", 1)[1]]["oneOf"] == [schema_ref("CampaignCreate"),
                                                                  schema_ref("OriginalCampaignCreateRequest")]
    assert schemas["OriginalCampaignCreateRequest"]["required"] == ["name", "totalStock"]
    answers = {status: a["content"]["application/json"]["schema"] for status, a in create["responses"].items()}
    assert (answers["201"], answers["200"]) == (schema_ref("Campaign"), schema_ref("OriginalCampaignCreated"))
    assert schemas["OriginalCampaignCreated"]["properties"]["data"] == schema_ref("OriginalCampaign")

    listing = operations["get"]
    assert [(p["name"], p["schema"]["enum"]) for p in listing["parameters"]] == [("contract", ["original"])]
    listed = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert schemas[listed["$ref"].rsplit("/", 1)[1]]["oneOf"] == [
        {"type": "array", "items": schema_ref("Campaign")}, schema_ref("OriginalCampaignList")]


def test_without_the_lab_the_load_test_helpers_are_a_404_envelope():
    view = LabOnlyView.as_view()
    for path in ("/api/campaigns/1/participation-sync", "/api/admin/test/participate-bulk"):
        response = view(APIRequestFactory().post(path, {"userId": 1}, format="json"))
        response.render()
        assert response.status_code == 404
        assert json.loads(response.content)["code"] == "not_served_here"


@pytest.mark.django_db(transaction=True)
@override_settings(FIRSTCOME_EXPERIMENT_ENDPOINTS=True)
def test_the_sync_baseline_decides_in_the_request_where_the_lab_is(api):
    campaign = CampaignFactory(total_stock=1)
    answers = [api.post(f"/api/campaigns/{campaign.pk}/participation-sync", {"userId": user}, format="json",
                        REMOTE_ADDR="127.0.0.1").json() for user in (7, 8, 7)]
    assert [a["data"] for a in answers] == [{"status": s, "method": "SYNC"} for s in ("SUCCESS", "SOLD_OUT", "DUPLICATE")]
    assert all(a["success"] for a in answers)


@pytest.mark.django_db
def test_the_sync_baseline_is_off_unless_experiments_are_on(api):
    campaign = CampaignFactory()
    assert_refused(api.post(f"/api/campaigns/{campaign.pk}/participation-sync", {"userId": 1}, format="json"),
                   404, "experiments_disabled")


@pytest.mark.django_db
def test_participate_bulk_publishes_count_distinct_integer_users_for_staff(api, staff_api, kafka_topics, settings):
    campaign = CampaignFactory()
    body = {"count": 30, "campaignId": campaign.pk}
    assert_refused(api.post("/api/admin/test/participate-bulk", body, format="json"), 403, "not_authenticated")
    response = staff_api.post("/api/admin/test/participate-bulk", body, format="json")
    assert response.status_code == 200
    assert response.json()["data"]["requestCount"] == 30 and response.json()["message"].startswith("30건")
    users = [json.loads(m.value)["user_id"] for m in read_topic(settings.FIRSTCOME_TOPIC, expected=30)]
    assert len(set(users)) == 30 and all(u.isdigit() for u in users)
    assert_refused(staff_api.post("/api/admin/test/participate-bulk", {"count": 1, "campaignId": 999999},
                                  format="json"), 404, "campaign_not_found")
