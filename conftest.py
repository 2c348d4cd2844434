"""Shared fixtures: a real broker process for the session, fresh topics per test, and the
project's own processes (consumers, gunicorn) started against the test database."""
import contextlib
import itertools
import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from streaming.embedded import EmbeddedBroker
from streaming.processes import ManagedProcess, project_env, wait_until
from streaming.producer import reset_producer
from streaming.topics import ensure_topics

ARTIFACTS = Path(__file__).parent / "test-artifacts"
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
        suffix = f"{os.getpid()}-{next(_topic_counter)}-{uuid.uuid4().hex[:6]}"
        settings.FIRSTCOME_TOPIC = f"test.participations.{suffix}"
        settings.FIRSTCOME_DLQ_TOPIC = f"{settings.FIRSTCOME_TOPIC}.dlq"
        settings.FIRSTCOME_GROUP_ID = f"test-deciders-{suffix}"
        settings.FIRSTCOME_DECISIONS_TOPIC = f"test.decisions.{suffix}"
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
def child_env(kafka_topics, settings):
    """Environment for child processes: the test database and this test's topics."""
    def build(**overrides):
        return project_env(**{
            "FIRSTCOME_TOPIC": settings.FIRSTCOME_TOPIC,
            "FIRSTCOME_DLQ_TOPIC": settings.FIRSTCOME_DLQ_TOPIC,
            "FIRSTCOME_GROUP_ID": settings.FIRSTCOME_GROUP_ID,
            "FIRSTCOME_DECISIONS_TOPIC": settings.FIRSTCOME_DECISIONS_TOPIC,
            "FIRSTCOME_MESSAGE_KEY": settings.FIRSTCOME_MESSAGE_KEY,
            "STATS_GROUP_ID": settings.STATS_GROUP_ID,
            "STATS_DLQ_TOPIC": settings.STATS_DLQ_TOPIC,
            "KAFKA_SESSION_TIMEOUT_MS": 6000,
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
def _fresh_throttle_counts():
    """The per-user throttle counts in this process's memory: each test starts with none."""
    from django.core.cache import caches

    caches[settings.FIRSTCOME_THROTTLE_CACHE].clear()


@contextlib.contextmanager
def scratch_database(suffix):
    """An empty database `<test database>_<suffix>` on the test server, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_{suffix}"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def poll(predicate, timeout=60, message="condition"):
    return wait_until(predicate, timeout=timeout, message=message)


def committed_total(group_id=None, topic=None):
    """Offsets a group (the deciders' by default) has committed on a topic (the participations by
    default), summed over its partitions."""
    from streaming.topics import committed_offsets

    return sum(committed_offsets(group_id or settings.FIRSTCOME_GROUP_ID, topic or settings.FIRSTCOME_TOPIC).values())


def read_topic(topic, *, expected=None, until=None, timeout=20):
    """Messages of a topic (all partitions, from the start), polled until `expected` have arrived
    or until(messages) is true. Messages are counted, not offsets: the embedded broker's end
    offsets can trail."""
    until = until or (lambda got: len(got) >= expected)
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False,
                             fetch_max_wait_ms=10)
    try:
        partitions = wait_until(lambda: consumer.partitions_for_topic(topic), timeout=timeout,
                                message=f"metadata for {topic}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        messages = []

        def enough():
            for batch in consumer.poll(timeout_ms=100).values():
                messages.extend(batch)
            return until(messages)

        wait_until(enough, timeout=timeout, interval=0, message=f"enough messages in {topic}")
        return messages
    finally:
        consumer.close()
