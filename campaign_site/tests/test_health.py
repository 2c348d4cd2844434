"""/healthz and /readyz against the real MariaDB and real broker processes: stopped, hanging,
unreachable, unmigrated — each named, each answered within 2 s."""
import socket
import time

import pytest
from django.db import connection

from campaign_site import health
from lab.embedded import EmbeddedBroker
from lab.embedded import free_port
from streaming.topics import ensure_topics
from lab.processes import database_url as url_of
from testsupport.database import scratch_database
from testsupport.polling import poll
from testsupport.web import get, start_gunicorn

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_check_carried_over():
    """Each test's readiness starts its own checks. A check still in flight is waited on by the
    next readiness call (by design: one probe at a time per process), so a hanging probe left
    by one test would answer the next test with the previous test's settings."""
    def settle():
        for run in list(health._runs.values()):
            assert run.done.wait(5), "a readiness check outlived its own timeout"
        health._runs.clear()
        health._topics_check = None  # nor a topics reading (kept a minute) of another test's broker

    settle()
    yield
    settle()


@pytest.fixture
def own_broker(settings, tmp_path):
    """A broker of this test's own, so stopping it leaves the session broker alone."""
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log").start()
    settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap_servers]
    ensure_topics({settings.FIRSTCOME_TOPIC: 1})  # readiness asks for the topic a 202 rests on
    yield broker
    broker.stop()


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections (through its backlog) and never says a word: a hung peer."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def timed_readyz(client, **extra):
    started = time.monotonic()
    response = client.get("/readyz", **extra)
    return response, time.monotonic() - started


def test_healthz_answers_without_touching_any_dependency(client, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{free_port()}"]  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz_is_ready_and_reports_every_dependency(client, kafka_topics):
    response, elapsed = timed_readyz(client)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready" and body["failing"] == []
    assert set(body["checks"]) == {"database", "migrations", "broker"}
    assert all(check["ok"] for check in body["checks"].values())
    assert elapsed < 2


def test_health_checks_are_served_for_load_balancer_hosts_over_plain_http(client, kafka_topics, settings):
    # The ALB's health check: Host is the instance's private IP, the scheme plain HTTP.
    settings.ALLOWED_HOSTS = ["coupons.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/readyz", HTTP_HOST="10.0.3.17:8000").status_code == 200
    assert client.get("/healthz", HTTP_HOST="10.0.3.17:8000").status_code == 200
    assert client.get("/api/campaigns/1", HTTP_HOST="10.0.3.17:8000").status_code == 400  # everything else still checks


def test_health_endpoints_refuse_writes(client):
    response = client.post("/readyz")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_readyz_fails_within_2s_when_the_broker_stops_and_recovers_when_it_is_back(client, own_broker, settings):
    assert client.get("/readyz").status_code == 200

    own_broker.stop()
    response, elapsed = timed_readyz(client)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failing"] == ["broker"]
    assert own_broker.bootstrap_servers in body["checks"]["broker"]["detail"]
    assert elapsed < 2

    own_broker.start()  # the same address, as after a broker restart
    ensure_topics({settings.FIRSTCOME_TOPIC: 1})  # an embedded broker restarts empty
    poll(lambda: client.get("/readyz").status_code == 200, timeout=10, message="ready again")


def test_readyz_names_a_hanging_broker_within_2s(client, settings, silent_server):
    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{silent_server}"]
    response, elapsed = timed_readyz(client)
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    assert "timed out" in response.json()["checks"]["broker"]["detail"]
    assert elapsed < 2


def test_a_check_still_hanging_is_waited_on_not_started_again(settings, silent_server):
    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{silent_server}"]
    _names, probe = health.CHECKS["broker"]
    hanging = health._start("broker", probe, 1.0)  # e.g. left over from an earlier request

    report = health.readiness(timeout_s=0.2)

    assert health._runs["broker"] is hanging
    assert report["checks"]["broker"]["detail"] == "no answer within 0.2 s"
    assert hanging.done.wait(3)  # it gives up on its own timeout, and the next check starts afresh
    health.readiness(timeout_s=0.2)
    assert health._runs["broker"] is not hanging


@pytest.fixture
def unmigrated_database():
    """An empty database on the same server: reachable, nothing applied."""
    with scratch_database("unmigrated") as name:
        yield name


def database_url(name=None, port=None):
    db = connection.settings_dict
    return url_of({**db, "NAME": name or db["NAME"], "PORT": port or db["PORT"]})


@pytest.mark.slow
def test_readyz_of_a_web_process_names_an_unreachable_a_hanging_and_an_unmigrated_database(
        processes, child_env, silent_server, unmigrated_database):
    cases = {
        "closed port": (database_url(port=free_port()), ["database", "migrations"]),
        "hanging server": (database_url(port=silent_server), ["database", "migrations"]),
        "unmigrated": (database_url(name=unmigrated_database), ["migrations"]),
    }
    for case, (url, failing) in cases.items():
        web, base_url = start_gunicorn(processes, child_env(DATABASE_URL=url))
        started = time.monotonic()
        status, body = get(f"{base_url}/readyz")
        elapsed = time.monotonic() - started
        assert status == 503, (case, body)
        assert body["failing"] == failing, (case, body)
        assert body["checks"]["broker"]["ok"], (case, body)
        assert elapsed < 2, case
        assert get(f"{base_url}/healthz")[0] == 200, case  # liveness never depends on the database
        web.stop()
    assert "unapplied: " in body["checks"]["migrations"]["detail"]
