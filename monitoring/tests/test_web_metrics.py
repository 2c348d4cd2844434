"""django-prometheus's /metrics under gunicorn answers for every worker, whichever one it reaches."""
import urllib.error
import urllib.request

import pytest

from testsupport.identity import bearer, someone
from testsupport.web import metric_value, scrape_metrics, start_gunicorn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def bad_request(base_url):
    request = urllib.request.Request(f"{base_url}/api/campaigns/1/participations", data=b'{"user_id": ""}',
                                     headers={"Content-Type": "application/json", **bearer(someone())}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=5)
    answer.value.close()  # an open connection would hold a gunicorn worker at shutdown
    assert answer.value.code == 400


def responses_400(base_url):
    return metric_value(scrape_metrics(base_url), "django_http_responses_total_by_status_total", status="400")


def test_every_scrape_counts_the_requests_of_all_gunicorn_workers(processes, child_env):
    web, base_url = start_gunicorn(processes, child_env(), workers=2)  # two workers
    for _ in range(20):
        bad_request(base_url)
    assert [responses_400(base_url) for _ in range(8)] == [20] * 8
    assert web.stop() == 0
