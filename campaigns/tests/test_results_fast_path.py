"""The result GETs answered on the event loop (campaigns/answers.py) from each web process's cache
of decision events: the same status, body and headers as the DRF views, and no database read."""
import json
import urllib.parse
import uuid

import pytest
from rest_framework.test import APIClient

from campaigns.answers import ResultCache, result_body
from campaigns.models import Participation
from testsupport.factories import CampaignFactory
from testsupport.identity import ParticipantClient
from testsupport.polling import poll
from testsupport.web import (acting_headers, call, django_client_headers, metric_value, request_with_headers, scrape_metrics,
                             start_gunicorn)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COMPARED_HEADERS = ("content-type", "allow", "x-frame-options", "x-content-type-options", "referrer-policy",
                    "cross-origin-opener-policy", "vary", "retry-after")


def served(url, headers=None):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers=acting_headers(url, None, headers))  # as the owner
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, got, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, got, body = exc.code, exc.headers, exc.read()
    return status, body, {name: got.get(name) for name in COMPARED_HEADERS}


def by_view(path, headers=None):
    response = ParticipantClient().get(path, **(headers or {}))
    return response.status_code, response.content, {name: response.headers.get(name) for name in COMPARED_HEADERS}


def result_answers(base_url, answer):
    return metric_value(scrape_metrics(base_url), "firstcome_result_requests_total", answer=answer) or 0


def test_decided_results_come_from_the_cache_exactly_as_the_views_answer(processes, child_env, settings):
    campaign = CampaignFactory(total_stock=2)
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    users = ["ann", "bob", "cy/with slash", "ann"]  # ann twice: a DUPLICATE
    request_ids = [call("POST", f"{base_url}/api/campaigns/{campaign.pk}/participations",
                        body={"user_id": user})[1]["request_id"] for user in users]
    processes("consume_firstcome")
    poll(lambda: Participation.objects.count() == 4, message="all four decided")

    paths = [f"/api/participations/{rid}" for rid in request_ids]
    paths += [f"/api/campaigns/{campaign.pk}/participations/{urllib.parse.quote(u, safe='')}" for u in users[:3]]
    # The feed delivers the events within moments: poll until the fast path answers them all.
    poll(lambda: [served(base_url + p) for p in paths] and result_answers(base_url, "cache") >= len(paths),
         message="results answered from the cache")
    before = result_answers(base_url, "cache")
    for path in paths:
        assert served(base_url + path) == by_view(path), path
    assert result_answers(base_url, "cache") == before + len(paths)
    assert {served(base_url + p)[1] for p in paths[:3]} == {
        result_body(row) for row in Participation.objects.filter(request_id__in=request_ids[:3])
        .values("request_id", "campaign_id", "user_id", "status", "coupon_code")}


def test_ids_never_issued_and_the_rest_answer_as_the_views(processes, child_env, settings):
    campaign = CampaignFactory()
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    pending = call("POST", f"{base_url}/api/campaigns/{campaign.pk}/participations",
                   body={"user_id": "dee"})[1]["request_id"]
    cases = [  # (path, headers for urllib, the same for Django's test client, status)
        (f"/api/participations/{uuid.uuid4()}", {}, {}, 404),  # never issued: refused on the loop
        (f"/api/participations/{uuid.uuid4()}?wait=5", {}, {}, 404),  # before the wait is looked at
        ("/api/participations/not-a-uuid", {}, {}, 400),
        (f"/api/participations/{pending}", {}, {}, 200),  # not decided: a miss, the view says PENDING
        (f"/api/participations/{pending}?wait=0", {}, {}, 400),
        (f"/api/participations/{pending}?format=json", {}, {}, 200),
        (f"/api/participations/{uuid.uuid4()}", {"Accept": "text/html"}, {"HTTP_ACCEPT": "text/html"}, 406),
        (f"/api/campaigns/{campaign.pk}/participations/nobody", {}, {}, 404),
        ("/api/campaigns/999999999/participations/nobody", {}, {}, 404),
    ]
    for path, headers, client_headers, status in cases:
        got = served(base_url + path, headers)
        assert got[0] == status, (path, got)
        assert got == by_view(path, client_headers), path
    assert result_answers(base_url, "not_issued") == 2


def test_head_a_repeated_header_and_a_refused_host_go_to_the_view_even_for_a_cached_result(processes, child_env,
                                                                                           settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]  # here and in the server: evil.example is refused
    campaign = CampaignFactory(total_stock=1)
    _, base_url = start_gunicorn(processes, child_env(DJANGO_ALLOWED_HOSTS="127.0.0.1"), workers=1)
    request_id = call("POST", f"{base_url}/api/campaigns/{campaign.pk}/participations",
                      body={"user_id": "eve"})[1]["request_id"]
    processes("consume_firstcome")
    path = f"/api/participations/{request_id}"
    poll(lambda: served(base_url + path)[0] == 200 and result_answers(base_url, "cache") >= 1,
         message="the result answered from the cache")
    host = base_url.removeprefix("http://")
    cases = [
        ("HEAD", [("Host", host)]),
        ("GET", [("Host", host), ("Accept", "application/json"), ("Accept", "application/json")]),
        ("GET", [("Host", host), ("Host", host)]),
        ("GET", [("Host", "evil.example")]),
    ]
    cached, handed = result_answers(base_url, "cache"), result_answers(base_url, "django")
    for method, headers in cases:
        status, _, body = request_with_headers(base_url, method, path, headers)
        _, extra = django_client_headers(headers)
        view = ParticipantClient().generic(method, path, **extra)
        assert status == view.status_code, (method, headers, body)
        if ("Host", "evil.example") in headers:
            assert status == 400 and json.loads(body)["detail"]
        assert body == (b"" if method == "HEAD" else view.content), (method, headers)  # HEAD: the server drops the body
    assert result_answers(base_url, "cache") == cached  # none of them answered on the loop
    assert result_answers(base_url, "django") == handed + len(cases)


def test_the_cache_keeps_the_newest_decisions_up_to_its_size():
    cache = ResultCache(size=3)
    events = [{"request_id": f"r{i}", "campaign_id": 1, "user_id": f"u{i}", "status": "SUCCESS"} for i in range(5)]
    events.append({"request_id": "r5", "campaign_id": 1, "user_id": "u4", "status": "DUPLICATE"})
    for event in events:
        cache.add(event)
    assert list(cache.by_request) == ["r3", "r4", "r5"]
    assert list(cache.by_user) == [(1, "u2"), (1, "u3"), (1, "u4")]
    assert json.loads(cache.by_user[(1, "u4")])["status"] == "SUCCESS"  # a DUPLICATE is not the user's decision
