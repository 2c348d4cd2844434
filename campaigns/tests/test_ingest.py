"""The participation fast path (campaigns/ingest.py) answers exactly as the DRF view does: the
same request is sent to gunicorn (where the fast path answers it or hands it to Django) and to
the view through Django's test client, and the answers are compared; the server's own metrics
tell which path answered."""
import itertools
import json
import re
from datetime import timedelta

import hypothesis
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from campaign_site.parsers import MAX_JSON_DEPTH, TOO_DEEP
from campaigns.models import Campaign
from testsupport.factories import CampaignFactory
from testsupport.identity import ParticipantClient
from testsupport.kafka import read_topic
from testsupport.web import (
    django_client_headers,
    metric_value,
    post_with_headers,
    raw_post,
    scrape_metrics,
    start_gunicorn,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

JSON = "application/json"
COMPARED_HEADERS = ("x-frame-options", "x-content-type-options", "referrer-policy",
                    "cross-origin-opener-policy", "strict-transport-security", "allow", "vary", "retry-after")


def view_post(path, body, headers):
    """The same request to the DRF view through Django's test client: a repeated header arrives
    joined by commas, as the ASGI-to-WSGI adapter in front of Django joins it."""
    content_type, joined = django_client_headers(headers)
    response = ParticipantClient().generic("POST", path, body, content_type=content_type, **joined)
    return response.status_code, response.headers, response.content


def comparable(status, headers, body):
    """Status, body (request ids masked) and the headers both paths must set alike."""
    try:
        body = json.loads(body)
    except ValueError:
        body = body.decode(errors="replace")
    if isinstance(body, dict) and "request_id" in body:
        assert re.fullmatch(r"[0-9a-f-]{36}", body["request_id"])
        body["request_id"] = "<id>"
    lowered = {name.lower(): value for name, value in headers.items()}
    return status, body, {name: lowered.get(name) for name in COMPARED_HEADERS}


def ingest_counts(base_url):
    samples = scrape_metrics(base_url)
    return {answer: metric_value(samples, "firstcome_ingest_requests_total", answer=answer)
            for answer in ("accepted", "broker_unavailable", "sold_out", "django")}


CASES = [  # (name, campaign, body, content type, status)
    ("accepted", "open", b'{"user_id": "alice"}', JSON, 202),
    ("charset in the type", "open", b'{"user_id": "bob"}', "application/json; charset=utf-8", 202),
    ("extra fields ignored", "open", b'{"user_id": "carol", "coupon": "FREE"}', JSON, 202),
    ("no user_id", "open", b'{}', JSON, 202),  # the token says who
    ("numeric user_id", "open", b'{"user_id": 42}', JSON, 400),
    ("empty user_id", "open", b'{"user_id": ""}', JSON, 400),
    ("control character", "open", b'{"user_id": "a\\u0000b"}', JSON, 400),
    ("too long", "open", b'{"user_id": "%s"}' % (b"x" * 300), JSON, 400),
    ("a list", "open", b'["alice"]', JSON, 400),
    ("invalid JSON", "open", b'{"user_id": ', JSON, 400),
    ("not UTF-8", "open", b'\xff\xfe', JSON, 400),
    ("a form", "open", b"user_id=alice", "application/x-www-form-urlencoded", 415),
    ("unknown campaign", "unknown", b'{"user_id": "dave"}', JSON, 404),
    ("closed campaign", "closed", b'{"user_id": "erin"}', JSON, 409),
    ("not open yet", "future", b'{"user_id": "frank"}', JSON, 409),
    ("a giant number as user_id", "open", b'{"user_id": %s}' % (b"9" * 5000), JSON, 400),
    ("a giant number beside user_id", "open", b'{"user_id": "ivan", "n": %s}' % (b"9" * 5000), JSON, 400),
    ("a number past a double", "open", b'{"user_id": "judy", "n": %s}' % (b"9" * 400), JSON, 202),
    ("a float past a double", "open", b'{"user_id": "ken", "n": 1e400}', JSON, 202),
    ("a 23-digit user_id", "open", b'{"user_id": 12345678901234567890123}', JSON, 400),
    ("a campaign id past BIGINT", "bigint", b'{"user_id": "lena"}', JSON, 404),
    ("a campaign id of 4,300 digits", "4300 digits", b'{"user_id": "mike"}', JSON, 404),
    ("a campaign id of 5,000 digits", "5000 digits", b'{"user_id": "nina"}', JSON, 404),
    ("leading zeros", "leading zeros", b'{"user_id": "olga"}', JSON, 202),
    ("sold out", "sold out", b'{"user_id": "pia"}', JSON, 409),  # answered at the door, nothing published
]
# Accepted by Django, not the fast path: orjson refuses a number past a double where Python's
# parser takes it, and an id with leading zeros is not the fast path's to read.
DJANGOS_202 = {"a number past a double", "a float past a double", "leading zeros"}
# (name, header lines, status): the body is a valid request to the open campaign.
HEADER_CASES = [
    ("Host twice", [("Host", "localhost"), ("Host", "localhost"), ("Content-Type", JSON)], 400),
    ("Content-Type twice", [("Host", "localhost"), ("Content-Type", JSON), ("Content-Type", JSON)], 415),
    ("another header twice", [("Host", "localhost"), ("Content-Type", JSON), ("X-Note", "a"), ("X-Note", "b")], 202),
]


def test_every_answer_is_the_drf_views_and_only_acceptances_skip_django(processes, child_env, kafka_topics, settings):
    now = timezone.now()
    campaigns = {"open": CampaignFactory().pk, "unknown": 999_999,
                 "closed": CampaignFactory(starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1)).pk,
                 "future": CampaignFactory(starts_at=now + timedelta(days=1)).pk,
                 "bigint": 2**63, "4300 digits": "9" * 4300, "5000 digits": "9" * 5000}
    campaigns["leading zeros"] = f"{campaigns['open']:0>25}"
    campaigns["sold out"] = CampaignFactory(total_stock=1).pk
    Campaign.objects.for_decision().filter(pk=campaigns["sold out"]).update(remaining_stock=0)  # as the decision does
    # The ALB's request line limit rather than gunicorn's, so that the longest ids reach the fast
    # path (gunicorn's own answer to a long line: campaign_site/tests/test_request_limits.py).
    _, base_url = start_gunicorn(processes, child_env(GUNICORN_LIMIT_REQUEST_LINE="16384"), workers=1)
    api = ParticipantClient()

    for name, campaign, body, content_type, status in CASES:
        path = f"/api/campaigns/{campaigns[campaign]}/participations"
        served = comparable(*raw_post(base_url + path, body, content_type))
        response = api.generic("POST", path, body, content_type=content_type)
        expected = comparable(response.status_code, response.headers, response.content)
        assert served[0] == status, (name, served)
        assert served == expected, name
    path = f"/api/campaigns/{campaigns['open']}/participations"
    for index, (name, headers, status) in enumerate(HEADER_CASES):
        body = b'{"user_id": "header-%d"}' % index
        served = comparable(*post_with_headers(base_url, path, body, headers))
        assert served[0] == status, (name, served)
        assert served == comparable(*view_post(path, body, headers)), name

    by_fast_path = sum(status == 202 and name not in DJANGOS_202 for name, *_, status in CASES)
    accepted = sum(status == 202 for *_, status in [*CASES, *HEADER_CASES])
    sold_out = sum(name == "sold out" for name, *_ in CASES)
    assert ingest_counts(base_url) == {"accepted": by_fast_path, "broker_unavailable": 0, "sold_out": sold_out,
                                       "django": len(CASES) + len(HEADER_CASES) - by_fast_path - sold_out}
    # One message per 202 from each side: nothing handed to Django was published on the way. A
    # marker sent last is read for: anything a refused request had published stands before it.
    raw_post(f"{base_url}/api/campaigns/{campaigns['open']}/participations", b'{"user_id": "marker"}', JSON)
    messages = read_topic(settings.FIRSTCOME_TOPIC, until=lambda got: any(b'"marker"' in m.value for m in got))
    assert len(messages) == 2 * accepted + 1


def test_a_body_over_the_limit_goes_to_django_unread(processes, child_env, kafka_topics):
    campaign = CampaignFactory()
    _, base_url = start_gunicorn(processes, child_env(DATA_UPLOAD_MAX_MEMORY_SIZE="64"), workers=1)
    status, _, body = raw_post(f"{base_url}/api/campaigns/{campaign.pk}/participations",
                               b'{"user_id": "%s"}' % (b"y" * 100), JSON)
    assert (status, json.loads(body)["code"]) == (413, "request_too_large")
    assert ingest_counts(base_url)["django"] == 1


def test_with_the_broker_down_both_paths_answer_the_same_503(processes, child_env, settings):
    from lab.embedded import free_port
    from streaming.producer import reset_producer

    campaign = CampaignFactory()
    nobody = f"127.0.0.1:{free_port()}"
    _, base_url = start_gunicorn(processes, child_env(KAFKA_BOOTSTRAP_SERVERS=nobody, KAFKA_PUBLISH_TIMEOUT_MS="800"),
                                 workers=1)
    settings.KAFKA_BOOTSTRAP_SERVERS, settings.KAFKA_PUBLISH_TIMEOUT_MS = nobody, 800
    reset_producer()
    path = f"/api/campaigns/{campaign.pk}/participations"
    try:
        served = comparable(*raw_post(base_url + path, b'{"user_id": "gina"}', JSON))
        response = ParticipantClient().generic("POST", path, b'{"user_id": "gina"}', content_type=JSON)
    finally:
        reset_producer()
    assert served[:2] == (503, {"detail": "the request could not be queued; nothing was recorded, retry",
                                "code": "broker_unavailable"})
    assert served == comparable(response.status_code, response.headers, response.content)
    assert ingest_counts(base_url)["broker_unavailable"] == 1


def test_with_the_database_down_and_no_window_known_the_answer_is_503_to_retry(processes, child_env):
    """Never a 500: a campaign this process never read, with the database away, is a 503 with
    Retry-After (campaigns/tests/test_faults_database.py kills a real server under load)."""
    from django.db import connection

    from lab.embedded import free_port
    from lab.processes import database_url

    nowhere = database_url({**connection.settings_dict, "PORT": free_port()})
    _, base_url = start_gunicorn(processes, child_env(DATABASE_URL=nowhere), workers=1)
    status, headers, body = raw_post(f"{base_url}/api/campaigns/1/participations", b'{"user_id": "hal"}', JSON)
    assert (status, json.loads(body)["code"]) == (503, "database_unavailable")
    assert dict((k.lower(), v) for k, v in headers.items())["retry-after"] == "5"
    assert metric_value(scrape_metrics(base_url), "firstcome_ingest_requests_total", answer="database_unavailable") == 1


def nested(depth, shape, leaf):
    """`leaf` inside `depth` levels of lists, objects or both, alternating."""
    for level in range(depth):
        as_list = shape == "lists" or (shape == "mixed" and level % 2)
        leaf = b"[" + leaf + b"]" if as_list else b'{"k": ' + leaf + b"}"
    return leaf


# Around the parser's limit, and around where Python's decoder used to run out of stack.
DEPTHS = st.one_of(st.integers(MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH + 3), st.integers(980, 1030),
                   st.integers(1, 5000))


def test_nesting_gets_the_same_answer_from_both_paths(processes, child_env, kafka_topics, settings):
    campaign = CampaignFactory()
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    path = f"/api/campaigns/{campaign.pk}/participations"
    users, accepted = itertools.count(), []

    @given(depth=DEPTHS, shape=st.sampled_from(["lists", "objects", "mixed"]),
           where=st.sampled_from(["beside user_id", "as user_id"]))
    @hypothesis.example(depth=MAX_JSON_DEPTH, shape="mixed", where="beside user_id")
    @hypothesis.example(depth=MAX_JSON_DEPTH + 1, shape="mixed", where="beside user_id")
    @hypothesis.example(depth=1000, shape="lists", where="beside user_id")
    @hypothesis.settings(max_examples=30, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))
    def run(depth, shape, where):
        user = b'"nest-%d"' % next(users)
        # The whole body's depth: the object holding user_id is level 1.
        body = (b'{"user_id": %s, "n": %s}' % (user, nested(depth - 1, shape, b"0")) if where == "beside user_id"
                else b'{"user_id": %s}' % nested(depth - 1, shape, user))
        served = comparable(*raw_post(base_url + path, body, JSON))
        response = ParticipantClient().generic("POST", path, body, content_type=JSON)
        assert served == comparable(response.status_code, response.headers, response.content), (depth, shape, where)
        if depth > MAX_JSON_DEPTH:
            assert served[:2] == (400, {"detail": TOO_DEEP}), (depth, shape, where)
        elif where == "beside user_id" or depth == 1:
            assert served[0] == 202
            accepted.append(depth)
        else:
            assert served[0] == 400 and "user_id" in served[1]["errors"]

    run()
    raw_post(base_url + path, b'{"user_id": "marker"}', JSON)
    messages = read_topic(settings.FIRSTCOME_TOPIC, until=lambda got: any(b'"marker"' in m.value for m in got))
    assert len(messages) == 2 * len(accepted) + 1
