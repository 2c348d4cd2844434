"""Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE: a 413 with a JSON reason that the client can read,
through gunicorn as in production, on keep-alive and closing connections alike."""
import http.client
import json
import socket
import threading

import pytest

from campaigns.models import Campaign
from testsupport.identity import bearer
from testsupport.factories import CampaignFactory
from testsupport.web import start_gunicorn

TEN_MB = json.dumps({"user_id": "x" * (10 * 2**20), "name": "x", "total_stock": 1}).encode()


def post(port, path, body, *, keep_alive, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", **bearer("sender"), **({} if keep_alive else {"Connection": "close"}),
               **(headers or {})}
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



@pytest.mark.django_db
def test_a_content_length_that_is_not_a_number_is_400(client):
    response = client.generic("POST", "/api/admin/campaigns", b"{}", content_type="application/json",
                              CONTENT_LENGTH="lots")
    assert response.status_code == 400 and response.json()["detail"] == "Content-Length is not a number"


def send_head(port, head):
    """Sends a raw request head (from a thread: the server answers before it has read all of a
    huge one) and returns the answer's status and body (parsed, for a refusal)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sender = threading.Thread(target=lambda: _send_quietly(sock, head))
        sender.start()
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sender.join()
    status_line, _, rest = answer.partition(b"\r\n")
    status, body = int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]
    return status, json.loads(body) if status in (414, 431) else body  # others may be chunked


def _send_quietly(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass  # refused and closed while still sending: the answer is what counts


def head(target="/healthz", fields=()):
    lines = [b"GET %s HTTP/1.1" % target.encode(), b"Host: localhost", *fields, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_gunicorns_head_limits_are_json_414_and_431_under_the_production_workers(processes, child_env):
    _, base_url = start_gunicorn(processes, child_env(), workers=1)  # gunicorn.conf.py's defaults
    port = int(base_url.rsplit(":", 1)[1])
    long_target = "/api/campaigns/1/participations/" + "u" * 4400
    assert send_head(port, head(long_target)) == (
        414, {"detail": "request line too long: over 4094 bytes", "code": "request_line_too_long"})
    assert send_head(port, head(fields=[b"X-%d: v" % i for i in range(101)])) == (
        431, {"detail": "too many header fields: over 100", "code": "too_many_header_fields"})
    assert send_head(port, head(fields=[b"X-Big: " + b"v" * 8190])) == (
        431, {"detail": "header field too large: over 8190 bytes", "code": "header_field_too_large"})
    # 8 MB in 1,001 fields, and 8 MB in one field the parser would hold until it ended.
    assert send_head(port, head(fields=[b"X-%d: %s" % (i, b"v" * 8000) for i in range(1001)]))[0] == 431
    status, body = send_head(port, head(fields=[b"X-Big: " + b"v" * (8 * 2**20)]))
    assert (status, body["code"]) == (431, "header_fields_too_large")
    # Just within every limit: answered as usual.
    target = "/healthz?" + "q" * (4094 - len("GET /healthz? HTTP/1.1"))
    fields = [b"X-%03d: %s" % (i, b"v" * (8190 - len(b"X-000: "))) for i in range(98)]  # with Host, Connection: 100
    assert send_head(port, head(target, fields))[0] == 200


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_head_limits_come_from_gunicorns_configuration(processes, child_env):
    _, base_url = start_gunicorn(processes, child_env(GUNICORN_LIMIT_REQUEST_LINE="200", GUNICORN_LIMIT_REQUEST_FIELDS="5",
                                                      GUNICORN_LIMIT_REQUEST_FIELD_SIZE="100"), workers=1)
    port = int(base_url.rsplit(":", 1)[1])
    assert send_head(port, head("/healthz?" + "q" * 200))[0] == 414
    assert send_head(port, head(fields=[b"X-%d: v" % i for i in range(4)]))[0] == 431  # 4 + Host + Connection
    assert send_head(port, head(fields=[b"X-Big: " + b"v" * 100]))[0] == 431
    assert send_head(port, head(fields=[b"X-%d: v" % i for i in range(3)]))[0] == 200
