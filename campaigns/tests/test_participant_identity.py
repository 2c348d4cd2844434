"""Who may act and see what on the participation and result endpoints (the DRF views; the event
loop's answers are compared with them in test_identity_fast_path.py): a participant is the user
their token proves, a body user id must be that user, a decided result reaches only its owner and
staff, and body mode answers as the original did."""
import base64

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.db import transaction
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from campaigns import services
from testsupport.factories import CampaignFactory, participation_request, staff_account
from testsupport.identity import as_user, token_for

pytestmark = pytest.mark.django_db


def participate(client, campaign, body, **headers):
    return client.post(f"/api/campaigns/{campaign.pk}/participations", body, format="json", **headers)


def decided(campaign, *users):
    with transaction.atomic():
        return services.participations_decide_batch([participation_request(campaign, u, offset=i)
                                                     for i, u in enumerate(users)])


def basic(user, password):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def refusals(reason):
    return REGISTRY.get_sample_value("firstcome_identity_refusals_total", {"reason": reason}) or 0


def test_no_credential_is_a_401_with_the_reason_and_the_scheme_counted():
    before = refusals("missing")
    response = participate(APIClient(), CampaignFactory(), {"user_id": "alice"})
    assert response.status_code == 401
    assert response.json() == {"detail": "no credential: send Authorization: Bearer <token>", "code": "not_authenticated"}
    assert response["WWW-Authenticate"] == 'Bearer realm="firstcome"'
    assert refusals("missing") == before + 1


@pytest.mark.parametrize("claims, reason", [
    ({"exp": 1}, "expired"), ({"nbf": 4_000_000_000}, "not_yet_valid"), ({"iss": "someone-else"}, "issuer"),
    ({"aud": "another-service"}, "audience"), ({"sub": "tab\there"}, "user")])
def test_a_token_that_fails_a_rule_is_a_401_naming_it(claims, reason):
    before = refusals(reason)
    response = participate(APIClient(), CampaignFactory(), {"user_id": "alice"}, **as_user("alice", **claims))
    assert response.status_code == 401 and response.json()["code"] == "invalid_token"
    assert refusals(reason) == before + 1


def test_a_basic_credential_is_no_participant():
    User.objects.create_user("till", password="till-pass", is_staff=True)
    response = participate(APIClient(), CampaignFactory(), {"user_id": "till"}, **basic("till", "till-pass"))
    assert response.status_code == 401


@given(body_user=st.text(min_size=1, max_size=64).filter(str.isprintable))
@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_body_user_id_other_than_the_tokens_is_a_403(body_user):
    if body_user == "alice":
        return
    caches[settings.FIRSTCOME_THROTTLE_CACHE].clear()  # alice's rate is not what this is about
    response = participate(APIClient(), CampaignFactory(), {"user_id": body_user}, **as_user("alice"))
    assert response.status_code == 403 and response.json()["code"] == "not_your_user_id"


def test_the_original_contracts_user_id_must_be_the_tokens_too():
    campaign = CampaignFactory()
    response = APIClient().post(f"/api/campaigns/{campaign.pk}/participation", {"userId": 42}, format="json",
                                **as_user("43"))
    assert response.status_code == 403 and response.json()["success"] is False


def test_a_decided_result_reaches_its_owner_and_staff_and_nobody_else():
    campaign = CampaignFactory(total_stock=1)
    won, = decided(campaign, "winner")
    by_id, by_user = f"/api/participations/{won.request.request_id}", f"/api/campaigns/{campaign.pk}/participations/winner"
    owner = APIClient().get(by_id, **as_user("winner")).json()
    assert owner["coupon_code"] == won.coupon_code
    assert APIClient().get(by_user, **as_user("winner")).json()["coupon_code"] == won.coupon_code

    never_issued = APIClient().get("/api/participations/00000000-0000-4000-8000-000000000000", **as_user("thief"))
    stolen = APIClient().get(by_id, **as_user("thief"))
    assert stolen.status_code == 404 and stolen.json() == {"detail": "unknown request id"}
    assert never_issued.status_code == 404
    nobody = APIClient().get(f"/api/campaigns/{campaign.pk}/participations/nobody", **as_user("thief"))
    stolen = APIClient().get(by_user, **as_user("thief"))
    assert stolen.status_code == 404 and stolen.json()["detail"] == nobody.json()["detail"].replace("nobody", "winner")
    assert won.coupon_code not in stolen.content.decode()

    staff_account("support", "support-pass", role="manager")
    assert APIClient().get(by_id, **basic("support", "support-pass")).json()["coupon_code"] == won.coupon_code
    assert APIClient().get(by_user, **basic("support", "support-pass")).json()["coupon_code"] == won.coupon_code
    assert APIClient().get(by_id).status_code == 401  # no credential at all


def test_body_mode_answers_as_the_original_did(settings):
    settings.FIRSTCOME_IDENTITY = "body"
    campaign = CampaignFactory(total_stock=1)
    won, = decided(campaign, "winner")
    assert APIClient().get(f"/api/participations/{won.request.request_id}").json()["coupon_code"] == won.coupon_code
    assert APIClient().get(f"/api/campaigns/{campaign.pk}/participations/winner").status_code == 200
    assert participate(APIClient(), CampaignFactory(), {"user_id": ""}).status_code == 400  # the body, not a 401


def test_issue_token_prints_one_token_alone_that_the_verifier_accepts(capsys):
    from identity import participants

    call_command("issue_token", "--user", "carol", "--ttl", "60")
    printed = capsys.readouterr().out
    assert printed.count("\n") <= 1 and participants.identify(printed.strip()) == "carol"


@pytest.mark.parametrize("args", [["--user", ""], ["--user", "a\tb"], ["--user", "x", "--ttl", "0"]])
def test_issue_token_refuses_bad_arguments_with_a_message(args):
    with pytest.raises(CommandError):
        call_command("issue_token", *args)


def test_issue_token_is_refused_where_the_development_issuer_is_off(settings):
    settings.FIRSTCOME_DEV_ISSUER = False
    with pytest.raises(CommandError, match="development issuer is off"):
        call_command("issue_token", "--user", "carol")


def test_a_token_is_minted_for_the_configured_user_claim(settings):
    from identity import participants

    settings.FIRSTCOME_JWT_USER_CLAIM = "uid"
    assert participants.identify(token_for("erin")) == "erin"
