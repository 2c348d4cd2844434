"""The pytest plugin every test gets (registered in the root conftest.py with pytest_plugins): a
real broker process for the session, fresh topics per test, the project's own processes
(consumers, gunicorn) started against the test database, and per-test resets of process caches."""
import itertools
import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from lab.embedded import EmbeddedBroker
from lab.processes import ManagedProcess, project_env
from streaming.producer import reset_producer
from streaming.topics import ensure_topics

_topic_counter = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_campaign_cache():
    """Tests reuse campaign ids (tables are emptied between them): no window survives a test."""
    from campaigns.selectors import campaign_window_cache_clear

    campaign_window_cache_clear()
    yield
    campaign_window_cache_clear()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    """One Tansu process for the whole run (its start takes milliseconds; group joins don't)."""
    broker = EmbeddedBroker(log_path=tmp_path_factory.mktemp("broker") / "tansu.log").start()
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap_servers]
    yield broker
    reset_producer()
    broker.stop()


@pytest.fixture
def kafka_topics(kafka_broker, settings):
    """A fresh participation topic, dead-letter topic and consumer group for one test;
    create(partitions=N) switches the test to fresh topics with N partitions (an existing
    topic keeps its partition count, so new names rather than a resize)."""
    def create(partitions=1):
        # Short names: the embedded broker reads longer ones slowly (settings/embedded_broker.py).
        suffix = f"{os.getpid() % 100_000}-{next(_topic_counter)}-{uuid.uuid4().hex[:4]}"
        settings.FIRSTCOME_TOPIC = f"tp.{suffix}"
        settings.FIRSTCOME_DLQ_TOPIC = f"{settings.FIRSTCOME_TOPIC}.dlq"
        settings.FIRSTCOME_GROUP_ID = f"test-deciders-{suffix}"
        settings.FIRSTCOME_DECISIONS_TOPIC = f"td.{suffix}"
        settings.STATS_GROUP_ID = f"test-stats-{suffix}"
        settings.STATS_DLQ_TOPIC = f"{settings.FIRSTCOME_DECISIONS_TOPIC}.dlq"
        actual = ensure_topics({settings.FIRSTCOME_TOPIC: partitions, settings.FIRSTCOME_DLQ_TOPIC: 1,
                                settings.FIRSTCOME_DECISIONS_TOPIC: 1, settings.STATS_DLQ_TOPIC: 1})
        assert actual[settings.FIRSTCOME_TOPIC] == partitions
        return settings

    create()
    yield create
    reset_producer()


@pytest.fixture
def child_env(kafka_topics):
    """Environment for child processes: the test database and this test's topics (project_env
    passes them on)."""
    def build(**overrides):
        return project_env(**{
            "KAFKA_SESSION_TIMEOUT_MS": 6000,
            "LOG_LEVEL": "INFO",  # tests read the children's INFO lines, whatever this process was given
            **overrides,
        })
    return build


@pytest.fixture
def processes(tmp_path, child_env):
    """Start project processes for a test; whatever still runs at the end is killed."""
    started = []

    def start(*command, name=None, env=None, args=None):
        name = name or (command[0] if command else Path(args[0]).name)
        log_path = tmp_path / f"{name}-{len(started)}.log"
        env = env or child_env()
        if args:
            proc = ManagedProcess(args, env=env, log_path=log_path, name=name)
        else:
            proc = ManagedProcess.manage(*command, env=env, log_path=log_path, name=name)
        started.append(proc.start())
        return proc

    yield start
    for proc in started:
        proc.kill()


@pytest.fixture(autouse=True)
def _fresh_api_token_checks():
    """Accounts and tables are emptied between tests: no remembered API token check survives one."""
    from identity.api_tokens import recent_forget

    recent_forget()
    yield
    recent_forget()


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """The per-user throttle counts in this process's memory: each test starts with none."""
    from django.core.cache import caches

    caches[settings.FIRSTCOME_THROTTLE_CACHE].clear()


REFUSED = {"poison-1062": "SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 1062, "
                          "MESSAGE_TEXT = 'Duplicate entry (look-alike user id)'",
           "poison-1048": "SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 1048, "
                          "MESSAGE_TEXT = 'Column cannot be null (test trigger)'",
           "poison-signal": "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test trigger'"}


@pytest.fixture
def refusing_trigger(db):
    conditions = " ".join(f"IF NEW.user_id = '{user}' THEN {signal}; END IF;" for user, signal in REFUSED.items())
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS participation_refuses")
        cursor.execute(f"CREATE TRIGGER participation_refuses BEFORE INSERT ON participation "
                       f"FOR EACH ROW BEGIN {conditions} END")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS participation_refuses")


@pytest.fixture
def database_server(tmp_path):
    """A MariaDB server of this test's own (testsupport.mariadb), started; stopped at the end."""
    from testsupport.mariadb import DatabaseServer

    server = DatabaseServer(tmp_path / "mariadb").install().start()
    try:
        yield server
    finally:
        server.stop()


# What makes a test end-to-end: a real broker, a project process (consumer, gunicorn, k6) or a
# module that starts gunicorn itself. `pytest -m "not e2e"` runs the rest: models, services and
# selectors against MariaDB, parsers, settings.
_E2E_FIXTURES = {"kafka_broker", "processes", "database_server"}


def pytest_collection_modifyitems(items):
    for item in items:
        module = getattr(item, "module", None)
        if (_E2E_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("slow")
                or (module is not None and hasattr(module, "start_gunicorn"))):
            item.add_marker(pytest.mark.e2e)


def pytest_sessionfinish(session):
    """Refusals the tests counted at the door would be flushed at exit into a test database that
    is gone by then: the exit flush keeps them instead (campaigns.refusals)."""
    from campaigns.refusals import sold_out_refusals

    sold_out_refusals.sink = None
