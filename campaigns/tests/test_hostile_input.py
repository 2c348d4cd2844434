"""Hostile input: always a 4xx with a reason, never a 5xx, nothing written.

Fuzzed from the API's own OpenAPI document (schemathesis, against gunicorn) and hand-written for
what a fuzzer is unlikely to find on its own."""
import base64
import json
from collections import Counter

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.models import Campaign, Participation
from testsupport.factories import CampaignFactory, staff_account
from testsupport.kafka import read_topic
from testsupport.web import start_gunicorn
from testsupport.identity import ParticipantClient

EXAMPLES_PER_OPERATION = 25  # per operation and generation mode: 525 requests in all, about 12 s


def reasoned_4xx(ctx, response, case):
    """Our own check: a 4xx says why, as JSON {"detail": ...}."""
    if 400 <= response.status_code < 500:
        body = json.loads(response.content)
        assert isinstance(body, dict) and body.get("detail"), f"{response.status_code} without a reason: {body}"


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection, reasoned_4xx]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_fuzzed_requests_from_the_openapi_document(processes, child_env, kafka_topics):
    staff_account("fuzzer", "fuzz-pass", role="superuser")  # every operation, past every permission
    staff = {"Authorization": "Basic " + base64.b64encode(b"fuzzer:fuzz-pass").decode()}
    campaign = CampaignFactory()
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/")
    created, answered = [], []

    def fuzz(operation, mode, *, headers=None, **pinned):
        @given(case=operation.as_strategy(mode, **pinned))
        @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                             phases=[Phase.explicit, Phase.generate],
                             suppress_health_check=list(HealthCheck))
        def run(case):
            response = case.call(base_url=base_url, headers=headers)
            answered.append(response.status_code)
            if response.status_code == 414:  # the worker's refusal, before Django: a long path parameter
                assert response.json()["code"] == "request_line_too_long"
                return
            if response.status_code == 201 and operation.label == "POST /api/admin/campaigns":
                created.append(response.json()["id"])
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE, operation.label  # nothing in it can be made invalid

    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /api/campaigns/{campaign_id}/participations",
                                               "POST /api/admin/campaigns"}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode)
            if "/admin/" in operation.path or "monitoring" in operation.path:
                fuzz(operation, mode, headers=staff)  # past authentication, into validation
            if operation.label == "POST /api/campaigns/{campaign_id}/participations":
                fuzz(operation, mode, path_parameters={"campaign_id": campaign.pk})  # an open campaign

    print(f"fuzzed: {len(answered)} requests, answers {dict(sorted(Counter(answered).items()))}")
    assert max(answered) < 500 and len(answered) > 300
    # Nothing written but what was accepted: the campaigns the staff fuzzer created (201).
    assert set(Campaign.objects.exclude(pk=campaign.pk).values_list("pk", flat=True)) == set(created)
    assert Participation.objects.count() == 0  # no consumer ran: participations only reach Kafka


@pytest.fixture
def api():
    return ParticipantClient()


@pytest.fixture
def staff_api(db):
    user = staff_account("staff", role="manager")
    client = ParticipantClient()
    client.force_authenticate(user)
    return client


def assert_refused(response, status=400):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"], body
    return body


def assert_only_a_marker_reaches_kafka(api, settings, campaign=None):
    """Sends one valid request after the refused ones and reads the topic until it is there:
    anything a refused request had published would stand before it."""
    campaign = campaign or CampaignFactory()
    api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": "marker"}, format="json")
    [message] = read_topic(settings.FIRSTCOME_TOPIC, expected=1)
    assert json.loads(message.value)["user_id"] == "marker"


# A body without user_id is the token's user (campaigns.participants; body mode: test_api.py).
NOT_A_USER_ID = [
    pytest.param({"user_id": None}, id="null"),
    pytest.param({"user_id": ""}, id="empty"),
    pytest.param({"user_id": 12345}, id="number"),
    pytest.param({"user_id": ["alice"]}, id="list"),
    pytest.param({"user_id": {"id": "alice"}}, id="object"),
    pytest.param({"user_id": True}, id="bool"),
    pytest.param({"user_id": "x" * 65}, id="65 chars"),
    pytest.param({"user_id": "é" * 65}, id="65 non-ASCII chars"),
    pytest.param({"user_id": "alice\x00"}, id="NUL"),
    pytest.param({"user_id": "al\nice"}, id="newline"),
    pytest.param({"user_id": "alice\u200b"}, id="zero-width space"),
    pytest.param({"user_id": "\u202eecila"}, id="right-to-left override"),
    pytest.param({"user_id": "\ud800"}, id="lone surrogate"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("body", NOT_A_USER_ID)
def test_participation_with_a_bad_user_id_is_400_and_nothing_is_published(api, kafka_topics, settings, body):
    campaign = CampaignFactory()
    response = api.post(f"/api/campaigns/{campaign.pk}/participations", json.dumps(body),
                        content_type="application/json")
    assert "user_id" in assert_refused(response)["errors"]
    assert_only_a_marker_reaches_kafka(api, settings, campaign)


@pytest.mark.django_db
@pytest.mark.parametrize("user_id", ["用户-42", "😀" * 64, " padded ", "Robert'); DROP TABLE participation;--",
                                     "' OR '1'='1", "%00", "../../etc/passwd", "<script>alert(1)</script>"])
def test_odd_but_valid_user_ids_are_accepted_verbatim(api, kafka_topics, settings, user_id):
    campaign = CampaignFactory()
    response = api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": user_id}, format="json")
    assert response.status_code == 202
    [message] = read_topic(settings.FIRSTCOME_TOPIC, expected=1)
    assert json.loads(message.value)["user_id"] == user_id  # stored as sent, by parameterised queries


@pytest.mark.django_db
@pytest.mark.parametrize("raw, content_type, status", [
    pytest.param(b"{not json", "application/json", 400, id="invalid JSON"),
    pytest.param(b'["alice"]', "application/json", 400, id="a list"),
    pytest.param(b'"alice"', "application/json", 400, id="a string"),
    pytest.param(b"null", "application/json", 400, id="null"),
    pytest.param(b"user_id=alice", "application/x-www-form-urlencoded", 415, id="a form"),
    pytest.param(b"\xff\xfe\x00", "application/json", 400, id="not UTF-8"),
    pytest.param(b'{"user_id": "a"}', "text/plain", 415, id="text/plain"),
    pytest.param(b'{"user_id": "a", "n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json", 400,
                 id="deep nesting"),
    pytest.param(b'{"user_id": "a", "n": ' + b"[" * 1_000 + b"]" * 1_000 + b"}", "application/json", 400,
                 id="nesting where the decoder's recursion ran out"),
])
def test_participation_with_a_malformed_body_is_4xx_and_nothing_is_published(api, kafka_topics, settings, raw,
                                                                            content_type, status):
    campaign = CampaignFactory()
    response = api.generic("POST", f"/api/campaigns/{campaign.pk}/participations", raw, content_type=content_type)
    assert_refused(response, status)
    assert_only_a_marker_reaches_kafka(api, settings, campaign)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/campaigns/0/participations", "/api/campaigns/99999999999999999999/participations",
                                  "/api/campaigns/-1/participations", "/api/campaigns/1%27%20OR%201=1/participations"])
def test_participation_for_no_campaign_is_404_and_nothing_is_published(api, kafka_topics, settings, path):
    assert_refused(api.post(path, {"user_id": "alice"}, format="json"), 404)
    assert_only_a_marker_reaches_kafka(api, settings)


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"name": "x", "total_stock": -1}, "total_stock"),
    ({"name": "x", "total_stock": 0}, "total_stock"),
    ({"name": "x", "total_stock": 10**30}, "total_stock"),
    ({"name": "x", "total_stock": 1_000_000_001}, "total_stock"),
    ({"name": "x", "total_stock": 2.5}, "total_stock"),
    ({"name": "x", "total_stock": "50; DROP TABLE campaign"}, "total_stock"),
    ({"name": "x", "total_stock": True}, "total_stock"),
    ({"name": "x", "total_stock": None}, "total_stock"),
    ({"name": "x"}, "total_stock"),
    ({"total_stock": 5}, "name"),
    ({"name": "", "total_stock": 5}, "name"),
    ({"name": "x" * 201, "total_stock": 5}, "name"),
    ({"name": "\x1d" + "*" * 200, "total_stock": 5}, "name"),  # found by the fuzzer: trimmed, then 200
    ({"name": 12345, "total_stock": 5}, "name"),
    ({"name": "nul\x00", "total_stock": 5}, "name"),
    ({"name": ["x"], "total_stock": 5}, "name"),
    ({"name": "x", "total_stock": 5, "starts_at": "tomorrow"}, "starts_at"),
    ({"name": "x", "total_stock": 5, "starts_at": "99999-01-01T00:00:00Z"}, "starts_at"),
    ({"name": "x", "total_stock": 5, "starts_at": "1148-03-29T09:42:40+22:05"}, "starts_at"),
    ({"name": "x", "total_stock": 5, "ends_at": "9999-12-31T23:59:59Z"}, "ends_at"),
    ({"name": "x", "total_stock": 5, "starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, "ends_at"),
])
def test_campaign_with_a_bad_field_is_400_naming_it_and_nothing_is_created(staff_api, body, field):
    response = staff_api.post("/api/admin/campaigns", body, format="json")
    assert field in assert_refused(response)["errors"]
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_sql_looking_campaign_name_is_stored_verbatim(staff_api):
    name = "x'); DROP TABLE campaign; --"
    response = staff_api.post("/api/admin/campaigns", {"name": name, "total_stock": 3}, format="json")
    assert response.status_code == 201
    assert Campaign.objects.get().name == name


@pytest.mark.django_db
@pytest.mark.parametrize("request_id", ["not-a-uuid", "' OR 1=1 --", "0" * 1000, "%00"])
def test_result_lookup_with_a_bad_request_id_is_4xx(api, request_id):
    response = api.get(f"/api/participations/{request_id}")
    assert response.status_code in (400, 404)
    assert response.json()["detail"]


@pytest.mark.django_db
def test_ten_megabyte_bodies_are_413_and_nothing_is_parsed(api, staff_api, kafka_topics, settings):
    campaign = CampaignFactory()
    huge = json.dumps({"user_id": "x" * (10 * 2**20), "name": "x", "total_stock": 1})
    for client, path in ((api, f"/api/campaigns/{campaign.pk}/participations"), (staff_api, "/api/admin/campaigns")):
        response = client.post(path, huge, content_type="application/json")
        assert assert_refused(response, 413)["code"] == "request_too_large"
    assert Campaign.objects.count() == 1
    assert_only_a_marker_reaches_kafka(api, settings, campaign)
