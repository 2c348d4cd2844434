"""Staff API tokens: made once, kept as a digest, checked against MariaDB, revoked at once; any
other presented string is a 401, never a 500."""
import hashlib

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from identity.api_tokens import PRESENTED, api_token_create, api_token_revoke, api_token_user
from identity.models import ApiToken
from campaigns.coupons import coupon_codes
from testsupport.factories import CampaignFactory, staff_account

pytestmark = pytest.mark.django_db
UNKNOWN_CODE = coupon_codes(1)[0]  # well formed, never issued: a till that reaches the endpoint gets a 404


def with_token(presented):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {presented}")
    return client


def test_a_token_acts_as_its_account_and_only_its_digest_is_kept():
    till = staff_account("till-1", role="till")
    token, presented = api_token_create(user=till, name="till 1")
    assert api_token_user(presented=presented) == till
    row = ApiToken.objects.get()
    drawn = PRESENTED.fullmatch(presented)[2]  # the secret may hold "_" itself
    assert drawn not in str(row.__dict__) and row.digest == hashlib.sha256(drawn.encode()).hexdigest()
    assert row.last_used_at is not None  # listed in the admin with when it was last used


def test_a_revoked_token_or_an_inactive_account_stops_at_once():
    till = staff_account("till-2", role="till")
    token, presented = api_token_create(user=till, name="till 2")
    api_token_revoke(token=token)
    assert api_token_user(presented=presented) is None
    response = with_token(presented).post(f"/api/admin/coupons/{UNKNOWN_CODE}/redeem")
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_token"
    _, again = api_token_create(user=till, name="till 2, reissued")
    till.is_active = False
    till.save()
    assert api_token_user(presented=again) is None


@given(presented=st.one_of(st.text(st.characters(max_codepoint=255, exclude_categories=["Cc"]), max_size=80),
                           st.from_regex(r"fct_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", fullmatch=True)))
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_other_presented_token_is_a_401(presented):
    if not ApiToken.objects.exists():  # a real token is there to be guessed at
        api_token_create(user=staff_account("till-holder", role="till"), name="real")
    response = with_token(presented).post(f"/api/admin/coupons/{UNKNOWN_CODE}/redeem")
    assert response.status_code == 401


def test_a_token_revoked_elsewhere_stops_here_within_the_remembered_window(monkeypatch):
    import identity.api_tokens as api_tokens

    clock = [1000.0]
    monkeypatch.setattr(api_tokens.time, "monotonic", lambda: clock[0])
    till = staff_account("till-w", role="till")
    _, presented = api_token_create(user=till, name="till w")
    assert api_token_user(presented=presented) == till
    ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")  # revoked by another process
    assert api_token_user(presented=presented) == till  # remembered here, for RECENT_S at most
    clock[0] += api_tokens.RECENT_S
    assert api_token_user(presented=presented) is None


def test_a_wrong_secret_for_a_real_prefix_is_refused():
    token, presented = api_token_create(user=staff_account("till-3", role="till"), name="till 3")
    forged = presented[:-4] + ("AAAA" if not presented.endswith("AAAA") else "BBBB")
    assert api_token_user(presented=forged) is None


def test_create_api_token_prints_one_token_alone(capsys):
    staff_account("till-4", role="till")
    call_command("create_api_token", "--user", "till-4", "--name", "till 4")
    printed = capsys.readouterr().out.strip()
    assert api_token_user(presented=printed).username == "till-4"
    with pytest.raises(CommandError, match="no account named"):
        call_command("create_api_token", "--user", "nobody", "--name", "x")


def test_the_admin_lists_tokens_makes_one_shown_once_and_revokes(admin_client):
    till = staff_account("till-5", role="till")
    response = admin_client.post("/admin/identity/apitoken/add/", {"name": "till 5", "user": till.pk}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any("fct_" in m for m in shown), shown
    row = ApiToken.objects.get()
    assert row.prefix in admin_client.get("/admin/identity/apitoken/").content.decode()
    admin_client.post("/admin/identity/apitoken/", {"action": "revoke", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.revoked_at is not None


def test_a_tills_token_reaches_the_redeem_endpoint():
    CampaignFactory()  # the redeem endpoint answers 404 for an unknown code: the token got past authentication
    _, presented = api_token_create(user=staff_account("till-6", role="till"), name="till 6")
    assert with_token(presented).post(f"/api/admin/coupons/{UNKNOWN_CODE}/redeem").status_code == 404
