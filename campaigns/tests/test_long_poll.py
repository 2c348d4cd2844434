"""?wait=S on GET /api/participations/{id}: answered as soon as the request is decided (the
decision's event wakes the waiter on the fast path), PENDING at the deadline, 400 for a bad value
on both paths, 503 past the process's cap, PENDING at once when the server stops."""
import asyncio
import signal
import threading
import time

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from campaigns.answers import MAX_WAIT_S, wait_seconds
from testsupport.factories import CampaignFactory
from testsupport.polling import poll
from testsupport.web import call, get, metric_value, scrape_metrics, start_gunicorn, workers
from testsupport.identity import ParticipantClient

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def accepted(base_url, campaign, user):
    status, body = call("POST", f"{base_url}/api/campaigns/{campaign.pk}/participations", body={"user_id": user})
    assert status == 202, body
    return body["request_id"]


def in_background(function):
    """Run function() on a thread; returns a callable giving (its result, seconds it took)."""
    box = {}

    def run():
        started = time.monotonic()
        box["result"] = function()
        box["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    return lambda: (thread.join(timeout=40), box["result"], box["seconds"])[1:]


def test_a_waiting_request_is_answered_when_its_decision_arrives(processes, child_env):
    campaign = CampaignFactory(total_stock=1)
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    request_id = accepted(base_url, campaign, "wes")
    answer = in_background(lambda: get(f"{base_url}/api/participations/{request_id}?wait=20", timeout=30))
    poll(lambda: metric_value(scrape_metrics(base_url), "firstcome_result_waiters") == 1, message="waiting")
    processes("consume_firstcome")
    (status, body), seconds = answer()
    assert (status, body["status"], body["user_id"]) == (200, "SUCCESS", "wes")
    assert seconds < 15  # the event woke it, long before the deadline
    samples = scrape_metrics(base_url)
    assert metric_value(samples, "firstcome_result_requests_total", answer="woken") == 1
    assert body == ParticipantClient().get(f"/api/participations/{request_id}").json()


def test_at_the_deadline_the_answer_is_pending_as_the_views(processes, child_env):
    campaign = CampaignFactory()
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    request_id = accepted(base_url, campaign, "pat")  # no consumer: never decided
    started = time.monotonic()
    served = get(f"{base_url}/api/participations/{request_id}?wait=0.5")
    assert time.monotonic() - started >= 0.5
    response = ParticipantClient().get(f"/api/participations/{request_id}?wait=0.5")
    assert served == (200, response.json()) == (200, {"request_id": request_id, "campaign_id": None,
                                                      "user_id": None, "status": "PENDING", "coupon_code": None})


BAD_WAITS = ["0", "0.0", "31", "30.001", "-1", "1e1", "nan", "inf", "", "5s", "1.2345", "007.5", " 5"]


def test_a_bad_wait_is_a_400_with_its_reason_on_both_paths(processes, child_env):
    campaign = CampaignFactory()
    _, base_url = start_gunicorn(processes, child_env(), workers=1)
    request_id = accepted(base_url, campaign, "val")
    api = ParticipantClient()

    @hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(BAD_WAITS) | st.from_regex(r"[0-9.]{1,8}", fullmatch=True)
           .filter(lambda v: _refused(v)))
    def check(value):
        from urllib.parse import quote

        path = f"/api/participations/{request_id}?wait={quote(value)}"
        served = get(base_url + path)
        assert served[0] == 400 and "wait" in served[1]["errors"], (value, served)
        response = api.get(path)
        assert served == (response.status_code, response.json()), value

    check()
    path = f"/api/participations/{request_id}?wait=1&wait=2"  # twice
    assert get(base_url + path) == (400, api.get(path).json())


def _refused(value):
    try:
        wait_seconds([value])
    except Exception:
        return True
    return False


@given(st.decimals(min_value="0.001", max_value=MAX_WAIT_S, places=3))
def test_any_wait_within_the_range_is_taken(value):
    assert wait_seconds([str(value)]) == float(value)


def test_waiters_past_the_cap_get_a_503_to_retry(processes, child_env):
    campaign = CampaignFactory()
    _, base_url = start_gunicorn(processes, child_env(FIRSTCOME_RESULTS_MAX_WAITERS="2"), workers=1)
    ids = [accepted(base_url, campaign, f"cap-{i}") for i in range(3)]
    waiting = [in_background(lambda rid=rid: get(f"{base_url}/api/participations/{rid}?wait=3")) for rid in ids[:2]]
    poll(lambda: metric_value(scrape_metrics(base_url), "firstcome_result_waiters") == 2, message="two waiting")
    status, body = get(f"{base_url}/api/participations/{ids[2]}?wait=3")
    assert (status, body["code"]) == (503, "too_many_waiters")
    assert all(answer()[0][0] == 200 for answer in waiting)


def test_the_graceful_stop_answers_the_waiters_pending_at_once(processes, child_env):
    campaign = CampaignFactory()
    web, base_url = start_gunicorn(processes, child_env(), workers=1)
    request_id = accepted(base_url, campaign, "sam")
    answer = in_background(lambda: get(f"{base_url}/api/participations/{request_id}?wait=30", timeout=40))
    poll(lambda: metric_value(scrape_metrics(base_url), "firstcome_result_waiters") == 1, message="waiting")
    worker = workers(web)[0]
    worker.send_signal(signal.SIGTERM)  # the worker's graceful stop (a reload or a deploy sends it)
    (status, body), seconds = answer()
    assert (status, body["status"]) == (200, "PENDING")
    assert seconds < 10  # not the 30 s it asked to wait


def test_the_views_wait_reads_the_database_until_decided():
    """The DRF view (the fallback path) polls the database at a modest interval."""
    from django.db import connection

    from campaigns import services
    from testsupport.factories import participation_request

    campaign = CampaignFactory()
    request = participation_request(campaign, "vic")

    def decide_later():
        time.sleep(0.7)
        services.participation_decide(request)
        connection.close()

    thread = threading.Thread(target=decide_later)
    thread.start()
    started = time.monotonic()
    response = ParticipantClient().get(f"/api/participations/{request.request_id}?wait=10")
    thread.join()
    assert (response.status_code, response.json()["status"]) == (200, "SUCCESS")
    assert 0.7 <= time.monotonic() - started < 5


@pytest.mark.parametrize("news", ["decision", "stop"])
def test_news_arriving_while_the_wait_reads_the_database_is_not_lost(monkeypatch, news):
    """The wait starts with a database read (the decision may predate the cache). A decision
    event, or the server's stop, that lands during that read must still answer the request:
    not after the whole wait, through the view."""
    from campaigns import answers
    from campaigns.request_ids import new_request_id

    request_id = new_request_id()
    event = {"request_id": str(request_id), "campaign_id": 7, "user_id": "u", "status": "SUCCESS",
             "coupon_code": "0123456789ABCDEF"}
    results = answers.ResultAnswers(cache_size=10, max_waiters=10)
    real_read = answers._participation_row

    async def run():
        loop = asyncio.get_running_loop()
        results.start()

        def read_while_news_lands(rid):
            landed = threading.Event()
            arrive = (lambda: results.decided([event])) if news == "decision" else results.release
            loop.call_soon_threadsafe(lambda: (arrive(), landed.set()))
            landed.wait(5)
            return real_read(rid)  # the real database: no row yet

        monkeypatch.setattr(answers, "_participation_row", read_while_news_lands)
        answered, handed = [], []

        async def respond(status, body, headers=()):
            answered.append((status, body))

        async def to_django(query):
            handed.append(query)

        started = loop.time()
        await results.result(request_id=str(request_id), query=b"wait=20", respond=respond, to_django=to_django,
                             viewer="u")  # the owner (a token's user)
        return answered, handed, loop.time() - started

    answered, handed, seconds = asyncio.run(run())
    expected = answers.result_body(event) if news == "decision" else answers.pending_body(request_id)
    assert (answered, handed) == ([(200, expected)], [])
    assert seconds < 10  # answered by the news, not at the 20 s deadline


def test_the_views_own_waiters_are_capped_so_they_cannot_take_every_django_thread(monkeypatch):
    """The fast path hands the view a long poll it cannot answer itself (an Accept it does not
    negotiate, say); each would hold one of Django's threads for up to 30 s."""
    from campaigns import views
    from campaigns.request_ids import new_request_id

    assert views._view_waiters.limit == settings.FIRSTCOME_VIEW_MAX_WAITERS == 8  # a third of the default 24 threads
    monkeypatch.setattr(views._view_waiters, "limit", 1)
    pending = new_request_id()  # issued here, never decided: the view waits it out
    url = f"/api/participations/{pending}"
    holder = in_background(lambda: ParticipantClient().get(url, {"wait": "3"}))
    poll(lambda: views._view_waiters.count == 1, timeout=10, message="the first waiter holding the only slot")
    refused = ParticipantClient().get(url, {"wait": "0.2"})
    assert refused.status_code == 503, refused.content
    assert refused.json()["code"] == "too_many_waiters" and refused["Retry-After"] == "1"
    assert ParticipantClient().get(url).status_code == 200  # no wait: no slot needed
    response, _ = holder()
    assert (response.status_code, response.json()["status"]) == (200, "PENDING")
    assert ParticipantClient().get(url, {"wait": "0.1"}).status_code == 200  # the slot is free again
