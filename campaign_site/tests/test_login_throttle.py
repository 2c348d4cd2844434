"""Failed sign-ins are counted per client, per username and per process; past a limit the next
attempt is refused before any password is hashed (campaign_site/authentication.py)."""
import base64
import itertools

import pytest
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.cache import caches
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from testsupport.factories import staff_account
from testsupport.identity import ParticipantClient

STAFF_API = "/api/admin/campaigns"


class CountingHasher(MD5PasswordHasher):
    """MD5 (fast, as in every test) that counts each password it hashes: encode() serves both
    setting a password and checking one, and ModelBackend hashes for unknown usernames too."""

    hashed = 0

    def encode(self, password, salt):
        type(self).hashed += 1
        return super().encode(password, salt)


def limits(*, client=None, username=None, process=None):
    return {"client": client, "username": username, "process": process}


@pytest.fixture
def counted(db, settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    caches[settings.FIRSTCOME_LOGIN_THROTTLE_CACHE].clear()
    staff_account("staff", "staff-pass-1", role="manager")
    yield CountingHasher
    caches[settings.FIRSTCOME_LOGIN_THROTTLE_CACHE].clear()


def basic_get(username, password, *, address="10.0.0.1", path=STAFF_API):
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return ParticipantClient().get(path, HTTP_AUTHORIZATION=f"Basic {credentials}", REMOTE_ADDR=address)


def test_failed_basic_sign_ins_from_one_client_are_refused_429_without_hashing(counted, settings):
    settings.FIRSTCOME_LOGIN_FAILURE_LIMITS = limits(client=(3, 60))
    before = counted.hashed
    refused = [basic_get(f"guess-{n}", "wrong").status_code for n in range(3)]  # three usernames: the client's count
    assert refused == [403] * 3 and counted.hashed == before + 3

    throttled = basic_get("guess-4", "wrong")
    assert throttled.status_code == 429
    assert throttled.json() == {"detail": "too many failed sign-ins; try again in 60 seconds", "code": "login_throttled"}
    assert throttled["Retry-After"] == "60"
    assert basic_get("staff", "staff-pass-1").status_code == 429  # refused before its password is looked at
    assert counted.hashed == before + 3  # no hash ran for any refused attempt

    assert basic_get("staff", "staff-pass-1", address="10.0.0.2").status_code == 200  # another client signs in


def test_failed_sign_ins_for_one_username_are_refused_from_every_client(counted, settings):
    settings.FIRSTCOME_LOGIN_FAILURE_LIMITS = limits(username=(3, 300))
    before = counted.hashed
    assert [basic_get("staff", "wrong", address=f"10.0.1.{n}").status_code for n in range(3)] == [403] * 3
    throttled = basic_get("STAFF", "staff-pass-1", address="10.0.1.9")  # case does not give a fresh count
    assert throttled.status_code == 429 and throttled["Retry-After"] == "300"
    assert counted.hashed == before + 3
    assert basic_get("other", "x", address="10.0.1.9").status_code == 403  # other usernames still hashed


usernames = st.text(st.characters(exclude_categories=("Cs",), exclude_characters=":\x00"), min_size=1, max_size=20)


# The fixture's user and hasher serve every example; the test empties the counts itself.
@hypothesis_settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attempts=st.lists(st.tuples(st.ip_addresses(v=4).map(str), usernames), min_size=6, max_size=9, unique=True))
def test_a_flood_spread_over_addresses_and_usernames_costs_at_most_the_process_limit(counted, settings, attempts):
    caches[settings.FIRSTCOME_LOGIN_THROTTLE_CACHE].clear()
    settings.FIRSTCOME_LOGIN_FAILURE_LIMITS = limits(client=(10, 300), username=(10, 300), process=(5, 60))
    before = counted.hashed
    statuses = [basic_get(name, "wrong", address=address).status_code for address, name in attempts]
    assert statuses == [403] * 5 + [429] * (len(attempts) - 5)
    assert counted.hashed == before + 5


def test_successful_sign_ins_are_not_counted(counted, settings):
    settings.FIRSTCOME_LOGIN_FAILURE_LIMITS = limits(client=(2, 60), username=(2, 60), process=(2, 60))
    assert [basic_get("staff", "staff-pass-1").status_code for _ in range(5)] == [200] * 5
    assert [basic_get("staff", "wrong").status_code for _ in range(3)] == [403, 403, 429]


@pytest.mark.parametrize("path", ["/api/schema/", "/api/monitoring/snapshot?campaign_id=1"])
def test_every_basic_authenticated_endpoint_is_behind_the_throttle(counted, settings, path):
    settings.FIRSTCOME_LOGIN_FAILURE_LIMITS = limits(client=(1, 60))
    assert basic_get("guess", "wrong", path=path).status_code == 403
    assert basic_get("guess", "wrong", path=path).status_code == 429


def test_the_admin_login_form_is_throttled_too_and_says_why(counted, settings):
    settings.FIRSTCOME_LOGIN_FAILURE_LIMITS = limits(client=(2, 60))
    browser = Client(REMOTE_ADDR="10.0.2.1")
    before = counted.hashed
    for password in itertools.repeat("wrong", 2):
        page = browser.post("/admin/login/", {"username": "staff", "password": password})
        assert page.status_code == 200 and b"correct username and password" in page.content
    throttled = browser.post("/admin/login/", {"username": "staff", "password": "staff-pass-1"})
    assert throttled.status_code == 200 and b"too many failed sign-ins; try again in 60 seconds" in throttled.content
    assert counted.hashed == before + 2
    other = Client(REMOTE_ADDR="10.0.2.2").post("/admin/login/", {"username": "staff", "password": "staff-pass-1"})
    assert other.status_code == 302  # signed in


def test_every_sign_in_goes_through_the_throttled_backend_with_the_documented_limits():
    assert settings.FIRSTCOME_LOGIN_FAILURE_LIMITS == {"client": (10, 300), "username": (10, 300), "process": (30, 60)}
    assert settings.AUTHENTICATION_BACKENDS == ["campaign_site.authentication.ThrottledModelBackend"]
