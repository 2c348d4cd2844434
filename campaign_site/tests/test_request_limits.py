"""Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE: a 413 with a JSON reason that the client can read,
through gunicorn as in production, on keep-alive and closing connections alike."""
import http.client
import json

import pytest

from campaign_site.tests.web import start_gunicorn
from campaigns.models import Campaign
from campaigns.tests.factories import CampaignFactory

TEN_MB = json.dumps({"user_id": "x" * (10 * 2**20), "name": "x", "total_stock": 1}).encode()


def post(port, path, body, *, keep_alive, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", **({} if keep_alive else {"Connection": "close"}), **(headers or {})}
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ten_megabytes_through_gunicorn_is_a_readable_413(processes, child_env):
    campaign = CampaignFactory()
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    port = int(base_url.rsplit(":", 1)[1])
    for path in (f"/api/campaigns/{campaign.pk}/participations", "/api/admin/campaigns", "/admin/login/"):
        for keep_alive in (True, False):
            status, body = post(port, path, TEN_MB, keep_alive=keep_alive)
            assert (status, body["code"]) == (413, "request_too_large"), (path, keep_alive)
            assert body["detail"] == f"request body too large: {len(TEN_MB)} bytes (limit 262144)"
    assert list(Campaign.objects.values_list("pk", flat=True)) == [campaign.pk]
    # Just under the limit is parsed as usual (and refused for what it says, not for its size).
    status, body = post(port, f"/api/campaigns/{campaign.pk}/participations",
                        json.dumps({"user_id": "x" * 200_000}).encode(), keep_alive=True)
    assert status == 400 and "user_id" in body["errors"]
    # A 5,000-byte request line is read like any other (uvicorn sets no limit of its own; the
    # ALB in front refuses lines over 16 KB) and answered by Django in JSON.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", f"/api/campaigns/{campaign.pk}/participations/{'u' * 5000}")
    response = connection.getresponse()
    assert response.status == 404 and "no decision yet" in json.loads(response.read())["detail"]
    connection.close()


@pytest.mark.django_db
def test_a_content_length_that_is_not_a_number_is_400(client):
    response = client.generic("POST", "/api/admin/campaigns", b"{}", content_type="application/json",
                              CONTENT_LENGTH="lots")
    assert response.status_code == 400 and response.json()["detail"] == "Content-Length is not a number"
