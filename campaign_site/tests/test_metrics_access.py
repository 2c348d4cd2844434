"""/metrics: only the scraper's bearer token in production, answered ahead of host validation and
the HTTPS redirect (Prometheus scrapes each instance over plain HTTP by its private address)."""
import json

import pytest
from django.test import Client

from testsupport.production import example_env, manage

TOKEN = "test-scrape-token-0123456789abcdef"

# One child process with production settings: GET /metrics the way Prometheus does, by address.
SCRAPE = """
import json
from django.test import Client
client = Client(HTTP_HOST="10.0.3.7:8000")
answers = {}
for name, headers in {"none": {}, "wrong": {"HTTP_AUTHORIZATION": "Bearer not-the-token"},
                      "basic": {"HTTP_AUTHORIZATION": "Basic c3RhZmY6c3RhZmY="},
                      "right": {"HTTP_AUTHORIZATION": "Bearer %s"}}.items():
    response = client.get("/metrics", **headers)
    answers[name] = [response.status_code, response.content.decode()[:20000], response.get("WWW-Authenticate")]
print(json.dumps(answers))
"""


def scrape_in_production(**env):
    run = manage("shell", "-v", "0", "-c", SCRAPE % TOKEN, env={**example_env(), **env})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_production_serves_metrics_only_with_the_bearer_token():
    answers = scrape_in_production(FIRSTCOME_METRICS_TOKEN=TOKEN)
    assert answers["right"][0] == 200 and "django_http_requests" in answers["right"][1]
    for name in ("none", "wrong", "basic"):
        status, body, challenge = answers[name]
        assert status == 401 and json.loads(body)["code"] == "not_authenticated", name
        assert challenge == 'Bearer realm="metrics"'


def test_production_without_a_token_refuses_metrics():
    answers = scrape_in_production(FIRSTCOME_METRICS_TOKEN="")
    for status, body, _ in answers.values():
        assert status == 403
        assert json.loads(body) == {"detail": "metrics are disabled: FIRSTCOME_METRICS_TOKEN is not set",
                                    "code": "metrics_disabled"}


def test_production_refuses_to_start_with_a_short_metrics_token():
    run = manage("check", env={**example_env(), "FIRSTCOME_METRICS_TOKEN": "short"})
    assert run.returncode != 0 and "FIRSTCOME_METRICS_TOKEN must be at least 32 characters" in run.stderr


@pytest.mark.parametrize("token, require, expected", [("", False, 200), ("", True, 403), (TOKEN, False, 401)])
def test_metrics_without_the_token(settings, token, require, expected):
    settings.FIRSTCOME_METRICS_TOKEN, settings.FIRSTCOME_METRICS_REQUIRE_TOKEN = token, require
    assert Client().get("/metrics").status_code == expected


def test_metrics_takes_only_get_and_head(settings):
    settings.FIRSTCOME_METRICS_TOKEN = TOKEN
    response = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
