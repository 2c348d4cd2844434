"""The per-user throttle of the participation endpoint (campaigns.throttles)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from campaigns.throttles import ParticipationUserThrottle
from testsupport.factories import CampaignFactory
from testsupport.web import call, start_gunicorn
from testsupport.identity import ParticipantClient

pytestmark = pytest.mark.django_db


def participate(client, campaign, user_id, address="10.0.0.1"):
    return client.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": user_id}, format="json",
                       REMOTE_ADDR=address)


def test_a_user_past_the_rate_gets_429_with_retry_after(kafka_topics, settings):
    settings.FIRSTCOME_PARTICIPATION_RATE = "3/m"  # a window the test cannot outlive by accident
    campaign, api = CampaignFactory(), ParticipantClient()

    assert [participate(api, campaign, "alice").status_code for _ in range(3)] == [202] * 3
    refused = participate(api, campaign, "alice")

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"]
    assert participate(api, campaign, "bob").status_code == 202  # others are not held back


def test_keyed_on_the_user_not_the_address(kafka_topics, settings):
    settings.FIRSTCOME_PARTICIPATION_RATE = "2/m"
    campaign, api = CampaignFactory(), ParticipantClient()
    # One address (a load balancer, a load test) for many users: none is refused.
    assert {participate(api, campaign, f"user-{i}", "10.0.0.1").status_code for i in range(20)} == {202}
    # One user from many addresses: refused all the same.
    answers = [participate(api, campaign, "mallory", f"10.0.1.{i}").status_code for i in range(3)]
    assert answers == [202, 202, 429]


def test_the_default_rate_lets_a_user_send_five_in_a_second(kafka_topics):
    campaign, api = CampaignFactory(), ParticipantClient()
    answers = [participate(api, campaign, "eager").status_code for _ in range(6)]
    assert answers == [202] * 5 + [429]


def test_off_turns_it_off(kafka_topics, settings):
    settings.FIRSTCOME_PARTICIPATION_RATE = "off"
    campaign, api = CampaignFactory(), ParticipantClient()
    assert {participate(api, campaign, "racer").status_code for _ in range(12)} == {202}


@pytest.mark.parametrize("body", [{}, {"user_id": 7}, ["user_id"], {"user_id": ""}])
def test_a_body_without_a_user_id_is_left_to_the_serializer(kafka_topics, settings, body):
    settings.FIRSTCOME_IDENTITY = "body"  # with a token, the token's user is counted whatever the body says
    settings.FIRSTCOME_PARTICIPATION_RATE = "1/m"
    campaign, api = CampaignFactory(), ParticipantClient()
    answers = {api.post(f"/api/campaigns/{campaign.pk}/participations", body, format="json").status_code
               for _ in range(3)}
    assert answers == {400}


def test_counting_costs_no_database_query():
    request = Request(APIRequestFactory().post("/", {"user_id": "alice"}, format="json"), parsers=[JSONParser()])
    throttle = ParticipationUserThrottle()
    with CaptureQueriesContext(connection) as queries:
        assert throttle.allow_request(request, view=None)
    assert len(queries) == 0


def test_allow_by_user_id_shares_the_views_count(settings):
    """The fast path counts through allow(user_id), with no DRF request: the same count the view
    checks, so a user cannot get twice the rate by alternating paths."""
    settings.FIRSTCOME_PARTICIPATION_RATE = "2/m"
    campaign = CampaignFactory()
    throttle = ParticipationUserThrottle()
    assert [throttle.allow("dave"), throttle.allow("dave")] == [True, True]
    assert participate(ParticipantClient(), campaign, "dave").status_code == 429  # the third, through the view
    assert not ParticipationUserThrottle().allow("dave")
    assert ParticipationUserThrottle().allow("erin")


@pytest.mark.parametrize("user_id", [None, "", 7, ["dave"]])
def test_allow_does_not_count_what_is_not_a_user_id(settings, user_id):
    settings.FIRSTCOME_PARTICIPATION_RATE = "1/m"
    throttle = ParticipationUserThrottle()
    assert all(throttle.allow(user_id) for _ in range(3))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_through_gunicorn_the_rate_is_configurable(processes, child_env):
    campaign = CampaignFactory()
    _, base_url = start_gunicorn(processes, child_env(FIRSTCOME_PARTICIPATION_RATE="2/m"), workers=1)
    url = f"{base_url}/api/campaigns/{campaign.pk}/participations"
    answers = [call("POST", url, body={"user_id": "carol"}) for _ in range(3)]
    assert [status for status, _ in answers] == [202, 202, 429]
    assert answers[2][1]["detail"]
