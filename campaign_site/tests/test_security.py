"""Access control, CSRF, secrets and DEBUG: who may do what, and what the repository must not hold."""
import base64
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from campaigns.models import Campaign
from testsupport.factories import CampaignFactory, staff_account
from testsupport.identity import ParticipantClient

ROOT = settings.BASE_DIR


@pytest.fixture
def users(db):
    return {"staff": staff_account("staff", "staff-pass-1", role="manager"),
            "user": User.objects.create_user("user", password="user-pass-1")}


def basic(client, username, password):
    client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{username}:{password}".encode()).decode())
    return client


STAFF_ENDPOINTS = [("get", "/api/admin/campaigns", None),
                   ("post", "/api/admin/campaigns", {"name": "x", "total_stock": 5}),
                   ("get", "/api/monitoring/snapshot?campaign_id={campaign}", None)]


@pytest.mark.parametrize("method, path, body", STAFF_ENDPOINTS)
def test_staff_api_refuses_anonymous_and_non_staff(users, method, path, body):
    path = path.format(campaign=CampaignFactory().pk)
    anonymous = getattr(ParticipantClient(), method)(path, body, format="json")
    non_staff = getattr(basic(ParticipantClient(), "user", "user-pass-1"), method)(path, body, format="json")
    wrong_password = getattr(basic(ParticipantClient(), "staff", "guess"), method)(path, body, format="json")
    staff = getattr(basic(ParticipantClient(), "staff", "staff-pass-1"), method)(path, body, format="json")

    assert anonymous.status_code in (401, 403) and anonymous.json()["detail"]
    assert non_staff.status_code == 403
    assert wrong_password.status_code in (401, 403)
    assert staff.status_code in (200, 201)
    assert Campaign.objects.count() == (2 if method == "post" else 1)  # only the staff's post created one


def test_admin_site_refuses_anonymous_and_non_staff(client, users):
    campaign = CampaignFactory()
    pages = ["/admin/", "/admin/campaigns/campaign/", f"/admin/campaigns/campaign/{campaign.pk}/change/"]
    for page in pages:
        assert client.get(page)["Location"].startswith("/admin/login/")
    client.force_login(users["user"])  # a session, but not staff
    for page in pages:
        assert client.get(page)["Location"].startswith("/admin/login/")
    refused = client.post("/admin/login/", {"username": "user", "password": "user-pass-1"})
    assert refused.status_code == 200 and b"staff account" in refused.content  # the form says no
    client.force_login(User.objects.create_superuser("admin", password="admin-pass-1"))
    assert [client.get(page).status_code for page in pages] == [200] * len(pages)


def test_session_authenticated_writes_need_the_csrf_token(users):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(users["staff"])
    refused = api.post("/api/admin/campaigns", {"name": "x", "total_stock": 5}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not Campaign.objects.exists()

    api.get("/admin/")  # any page that renders a form sets the CSRF cookie
    token = api.cookies["csrftoken"].value
    accepted = api.post("/api/admin/campaigns", {"name": "x", "total_stock": 5}, format="json",
                        HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


@pytest.mark.parametrize("host", ["127.0.0.1, evil.example", "bad host", "a" * 300 + ".example:x"])
def test_a_refused_host_header_is_a_json_400(client, db, host):
    """Django refuses these before any view (DisallowedHost); the answer is still the API's JSON."""
    campaign = CampaignFactory()
    answer = client.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": "u"},
                         content_type="application/json", HTTP_HOST=host)
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["code"] == "bad_request"


def test_admin_site_forms_need_the_csrf_token(users):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(users["staff"])
    response = browser.post("/admin/campaigns/campaign/add/", {"name": "x", "total_stock": 5})
    assert response.status_code == 403
    assert not Campaign.objects.exists()


# --- no secret in the repository ------------------------------------------------------------
# Formats that are a credential wherever they appear.
TOKEN_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,})\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Stripe live key": re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
}
# A long value given to a secret-sounding name, or a password inside a URL.
ASSIGNED_SECRET = re.compile(r"""(?i)\b\w*(secret|passw(or)?d|token|api_?key|private_?key)\w*["']?\s*[:=]\s*["']?([^\s"',)]{16,})""")
PASSWORD_IN_URL = re.compile(r"://[^:/@\s]+:([^@\s/]{8,})@")
# What may stand in a value: placeholders that say so, and reads from the environment.
PLACEHOLDER = re.compile(r"(?i)example|insecure|dummy|placeholder|change-?me|test-|xxxx|^PASSWORD$|[{<]|\$\(|env|settings\.")
# Values that look like secrets and are not, each with why.
NOT_SECRETS = {"firstcome": "docker-compose's local development database, documented as such"}


def tracked_text_files():
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, names):
        path = ROOT / name.decode()
        if path == Path(__file__):  # its examples of what the scan finds are there on purpose
            continue
        if path.suffix in {".png", ".jpg", ".ico", ".woff", ".woff2", ".gz"} or not path.is_file():
            continue
        try:
            yield path, path.read_text()
        except UnicodeDecodeError:
            continue


def secrets_in(line):
    """What in one line looks like a credential."""
    found = [kind for kind, pattern in TOKEN_PATTERNS.items() if pattern.search(line)]
    found += [f"a value for {m.group(0).split('=')[0].split(':')[0].strip()!r}" for m in ASSIGNED_SECRET.finditer(line)
              if not PLACEHOLDER.search(m.group(3)) and m.group(3) not in NOT_SECRETS]
    found += ["a password in a URL" for m in PASSWORD_IN_URL.finditer(line)
              if not PLACEHOLDER.search(m.group(1)) and m.group(1) not in NOT_SECRETS]
    return found


def test_no_secret_in_the_tracked_files():
    found = [f"{path.relative_to(ROOT)}:{lineno}: {kind}" for path, text in tracked_text_files()
             for lineno, line in enumerate(text.splitlines(), 1) for kind in secrets_in(line)]
    assert found == []


@pytest.mark.parametrize("line, found", [
    ('DJANGO_SECRET_KEY = "q8Zt3nV1xK9pL2mW7rT5yB4cH6jF0dSa"', True),
    ("aws_key: AKIAABCDEFGHIJKLMNOP", True),
    ("DATABASE_URL=mysql://app:Tr0ub4dor-and-3@db:3306/x", True),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", True),
    ('SECRET_KEY = env("DJANGO_SECRET_KEY")', False),
    ("DJANGO_SECRET_KEY=example-only-7wQ2xV9rLk3Jp8ZtN4mB6yHc1FgD5sKa0Eu", False),
    ("DATABASE_URL=mysql://firstcome:change-me@db:3306/firstcome", False),
])
def test_the_secret_scan_finds_what_it_is_for(line, found):
    assert bool(secrets_in(line)) is found


@pytest.mark.parametrize("module, debug", [("campaign_site.settings.test", False),
                                           ("campaign_site.settings.production", False),
                                           ("campaign_site.settings.local", True)])
def test_debug_is_on_only_in_the_local_settings(module, debug):
    env = {"DJANGO_SETTINGS_MODULE": module, "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "example.com",
           "DATABASE_URL": "mysql://root@127.0.0.1:3306/x", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
           "FIRSTCOME_JWT_JWKS_URL": "https://idp.example.com/jwks.json", "FIRSTCOME_JWT_ISSUER": "https://idp.example.com",
           "FIRSTCOME_JWT_AUDIENCE": "firstcome", "KAFKA_SINGLE_BROKER": "true", "PATH": "/usr/bin:/bin",
           "HOME": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == str(debug), run.stderr
