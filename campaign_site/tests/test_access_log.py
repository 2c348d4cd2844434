"""The access log (campaign_site/access_log.py) names the request id of every accepted
participation, whichever path answered it, in a real gunicorn."""
import http.client
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign_site.access_log import request_id_of
from testsupport.identity import bearer
from testsupport.factories import CampaignFactory
from testsupport.polling import poll
from testsupport.web import call, metric_value, scrape_metrics, start_gunicorn

JSON = "application/json"


def post_with_a_repeated_header(base_url, path, user_id):
    """A valid participation the fast path hands to Django (campaigns/ingest.py: a header sent
    twice); (status, body)."""
    host, port = base_url.removeprefix("http://").split(":")
    body = json.dumps({"user_id": user_id}).encode()
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        for name, value in [("Host", "localhost"), ("Content-Type", JSON), ("X-Note", "a"), ("X-Note", "b"),
                            *bearer(user_id).items(), ("Content-Length", str(len(body)))]:
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def django_answers(base_url):
    return metric_value(scrape_metrics(base_url), "firstcome_ingest_requests_total", answer="django") or 0


def lines_naming(text, request_id):
    return [line for line in text.splitlines() if request_id in line]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_accepted_post_s_access_line_carries_its_request_id_from_either_path_and_either_contract(processes, child_env, tmp_path):
    access_log = tmp_path / "access.log"
    _, base_url = start_gunicorn(processes, child_env(GUNICORN_ACCESS_LOG=str(access_log)), workers=1)
    path = f"/api/campaigns/{CampaignFactory().pk}/participations"

    status, fast = call("POST", base_url + path, body={"user_id": "by-the-fast-path"})
    assert status == 202
    handed_over = django_answers(base_url)
    status, by_django = post_with_a_repeated_header(base_url, path, "by-django")
    assert status == 202
    assert django_answers(base_url) == handed_over + 1  # Django, not the fast path, answered it

    original_path = path.removesuffix("s")  # the original contract's participation
    status, original = call("POST", base_url + original_path, body={"userId": 4242})
    assert status == 200

    for answer, posted, answered in ((fast, path, 202), (by_django, path, 202), (original, original_path, 200)):
        rid = answer["request_id"] if "request_id" in answer else answer["message"].rsplit("request_id=", 1)[1]
        poll(lambda rid=rid: access_log.exists() and lines_naming(access_log.read_text(), rid), timeout=10,
             message=f"the access line of {rid}")
        [line] = lines_naming(access_log.read_text(), rid)
        assert f'"POST {posted} HTTP/1.1" status={answered} ' in line
        assert line.endswith(f" rid={rid}"), line


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_json_access_line_has_the_request_id_as_a_field(processes, child_env):
    # As the systemd unit runs it: JSON lines on stdout, i.e. the process's own log.
    web, base_url = start_gunicorn(processes, child_env(GUNICORN_ACCESS_LOG="-", GUNICORN_LOG_JSON="true"),
                                   workers=1)
    status, answer = call("POST", f"{base_url}/api/campaigns/{CampaignFactory().pk}/participations",
                          body={"user_id": "json"})
    assert status == 202
    rid = answer["request_id"]
    poll(lambda: lines_naming(web.log_text(), rid), timeout=10, message="the JSON access line")
    [line] = lines_naming(web.log_text(), rid)
    record = json.loads(line)
    assert record["logger"] == "gunicorn.access"
    assert record["request_id"] == rid
    assert record["message"].endswith(f" rid={rid}")


@given(st.one_of(st.binary(max_size=300),
                 st.builds(lambda value: json.dumps({"request_id": value}).encode(),
                           st.one_of(st.none(), st.integers(), st.lists(st.text()), st.text())),
                 st.builds(lambda value: json.dumps(value).encode(), st.lists(st.text()))))
def test_any_answer_body_gives_its_request_id_string_or_none_never_an_error(body):
    request_id = request_id_of(body)
    if request_id is not None:
        assert request_id == json.loads(body)["request_id"]
    else:
        try:
            parsed = json.loads(body)
        except ValueError:
            return
        assert not (isinstance(parsed, dict) and isinstance(parsed.get("request_id"), str))
