"""Least-privilege staff: each role reaches what its job needs and is refused the rest, whatever
its credential (session, Basic, API token); is_staff alone reaches no staff endpoint. The matrix
is generated: every (role, credential, endpoint)."""
import base64

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from campaigns import roles
from identity.api_tokens import api_token_create
from campaigns.coupons import coupon_codes
from testsupport.factories import CampaignFactory, staff_account

pytestmark = pytest.mark.django_db
UNKNOWN_CODE = coupon_codes(1)[0]  # well formed, never issued: a till that reaches the endpoint gets a 404

ENDPOINTS = {  # name -> (method, path, body)
    "list campaigns": ("get", "/api/admin/campaigns", None),
    "create a campaign": ("post", "/api/admin/campaigns", {"name": "x", "total_stock": 1}),
    "export winners": ("get", "/api/admin/campaigns/{campaign}/winners.csv", None),
    "redeem": ("post", f"/api/admin/coupons/{UNKNOWN_CODE}/redeem", None),
    "the original's campaign list": ("get", "/api/admin/campaigns?contract=original", None),
}
ALLOWED = {
    "manager": {"list campaigns", "create a campaign", "export winners", "the original's campaign list"},
    "till": {"redeem"},
    "superuser": set(ENDPOINTS),
    "plain staff": set(),
}


def client_for(user, credential):
    client = APIClient()
    if credential == "token":
        client.credentials(HTTP_AUTHORIZATION="Token " + api_token_create(user=user, name="t")[1])
    elif credential == "basic":
        client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{user.username}:pw-{user.username}".encode()).decode())
    else:
        client.force_login(user)
    return client


def account(role, n):
    name = f"{role.replace(' ', '-')}-{n}"
    if role == "plain staff":
        from django.contrib.auth.models import User
        return User.objects.create_user(name, password=f"pw-{name}", is_staff=True)
    return staff_account(name, f"pw-{name}", role=role)


_n = iter(range(10**6))


@given(role=st.sampled_from(sorted(ALLOWED)), credential=st.sampled_from(["token", "basic", "session"]),
       endpoint=st.sampled_from(sorted(ENDPOINTS)))
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_each_role_reaches_exactly_its_endpoints_with_any_credential(role, credential, endpoint):
    campaign = CampaignFactory()
    method, path, body = ENDPOINTS[endpoint]
    client = client_for(account(role, next(_n)), credential)
    response = getattr(client, method)(path.format(campaign=campaign.pk), body, format="json")
    if endpoint in ALLOWED[role]:
        assert response.status_code in (200, 201, 404), (response.status_code, response.content[:200])  # 404: the code
    else:
        assert response.status_code == 403, (response.status_code, response.content[:200])


def test_a_till_has_no_admin_and_managers_have_campaigns_in_it(client):
    till = staff_account("till-a", "pw", role="till")
    assert not till.is_staff
    assert client.login(username="till-a", password="pw") is True
    assert client.get("/admin/").status_code == 302  # sent to the admin's login: not staff
    manager = staff_account("manager-a", "pw", role="manager")
    client.force_login(manager)
    assert client.get("/admin/campaigns/campaign/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403  # no account management


def test_the_roles_are_groups_with_exactly_their_permissions():
    from django.contrib.auth.models import Group

    roles.roles_ensure()
    for name, perms in roles.ROLES.items():
        group = Group.objects.get(name=name)
        assert {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()} == set(perms)
