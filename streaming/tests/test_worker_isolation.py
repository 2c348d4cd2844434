"""A record the database refuses does not stop the stream, and an offset hole is never committed
over: the real broker, the real MariaDB, the consumers' own classes in this process.

The database failure is real: a BEFORE INSERT trigger on the participation table refuses two user
ids, one with the error a look-alike user id gets from the unique key (1062, IntegrityError), one
with a plain SIGNAL (1644, which the driver reports as an OperationalError: not a lost database).
"""
import logging
import threading
import time
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from kafka import KafkaProducer
from kafka.errors import CommitFailedError
from prometheus_client import REGISTRY

from campaigns.messages import encode_participation
from campaigns.models import Participation
from monitoring.selectors import monitoring_snapshot
from streaming.producer import publish_many
from testsupport.consumers import first_come_worker
from testsupport.factories import CampaignFactory
from testsupport.kafka import committed_total, read_topic
from testsupport.polling import poll

pytestmark = pytest.mark.django_db(transaction=True)

def publish_requests(settings, campaign, users):
    now = timezone.now()
    publish_many(settings.FIRSTCOME_TOPIC, [
        (None, encode_participation(uuid.uuid4(), campaign.pk, user, now), None) for user in users])


def metric(name, settings, **labels):
    return REGISTRY.get_sample_value(name, {"consumer": "consume_firstcome",
                                            "topic": settings.FIRSTCOME_TOPIC, **labels}) or 0


def test_a_batch_with_records_the_database_refuses_dead_letters_exactly_those(kafka_topics, settings, refusing_trigger):
    campaign = CampaignFactory(total_stock=3)
    users = ["u0", "u1", "poison-1062", "u2", "u3", "u4", "poison-signal", "u5", "u6", "u7"]
    publish_requests(settings, campaign, users)

    worker = first_come_worker(settings, expected=len(users), max_poll_records=100)
    assert worker.run() == 0  # a fresh consumer on the poisoned batch: it does not exit

    dead = read_topic(settings.FIRSTCOME_DLQ_TOPIC, expected=2)
    headers = [dict(m.headers) for m in dead]
    assert sorted(int(h["source_offset"]) for h in headers) == [2, 6]
    assert {h["source_topic"].decode() for h in headers} == {settings.FIRSTCOME_TOPIC}
    assert {h["source_partition"] for h in headers} == {b"0"}
    reasons = {int(h["source_offset"]): h["reason"].decode() for h in headers}
    assert "IntegrityError" in reasons[2] and "look-alike user id" in reasons[2]
    assert "OperationalError" in reasons[6] and "refused by the test trigger" in reasons[6]

    # The rest decided as one at a time in Kafka order: the first three good users win.
    outcomes = dict(Participation.objects.values_list("user_id", "status"))
    assert outcomes == {"u0": "SUCCESS", "u1": "SUCCESS", "u2": "SUCCESS", **{
        u: "SOLD_OUT" for u in ("u3", "u4", "u5", "u6", "u7")}}
    campaign.refresh_from_db()
    assert campaign.remaining_stock == 0
    assert committed_total() == len(users)

    assert metric("firstcome_consumer_dead_lettered_by_kind_total", settings, kind="isolated") == 2
    assert metric("firstcome_consumer_dead_lettered_total", settings) == 2
    assert metric("firstcome_consumer_batch_splits_total", settings) >= 2


def test_a_lost_database_is_still_waited_for_not_split(kafka_topics, settings):
    """Only records are isolated: a connection error retries the whole batch."""
    campaign = CampaignFactory(total_stock=5)
    publish_requests(settings, campaign, ["a", "b", "c"])
    worker = first_come_worker(settings, expected=3, max_poll_records=100, retry_backoff_s=(0.01, 0.01))
    failures = iter([True, True])
    original = worker.process_batch

    def killed_twice(items):
        if next(failures, False):  # the server kills the transaction's connection: 2013 / 4031
            with connection.cursor() as cursor:
                cursor.execute("SELECT CONNECTION_ID()")
                (connection_id,) = cursor.fetchone()
            killer = connection.get_new_connection(connection.get_connection_params())
            killer.cursor().execute(f"KILL {connection_id}")
            killer.close()
        return original(items)

    worker.process_batch = killed_twice
    assert worker.run() == 0
    assert Participation.objects.count() == 3
    assert metric("firstcome_consumer_batch_splits_total", settings) == 0
    assert metric("firstcome_consumer_dead_lettered_total", settings) == 0


def test_a_hole_at_the_first_poll_after_an_assignment_stalls_visibly_and_is_never_committed_over(
        kafka_topics, settings, caplog):
    """The hole is a transaction's commit marker, on the real broker: an offset no record will
    ever fill. This product never writes transactions, so for its consumer such an offset is
    indistinguishable from a request not readable yet: it waits, loudly, instead of skipping."""
    campaign = CampaignFactory(total_stock=10)
    publish_requests(settings, campaign, ["a", "b", "c"])  # offsets 0-2
    transactional = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
                                  transactional_id=f"tx-{uuid.uuid4().hex}")
    transactional.init_transactions()
    transactional.begin_transaction()
    transactional.send(settings.FIRSTCOME_TOPIC, encode_participation(uuid.uuid4(), campaign.pk, "d", timezone.now()))
    transactional.commit_transaction()  # "d" at offset 3, the commit marker at 4
    transactional.close()
    assert first_come_worker(settings, expected=4).run() == 0
    assert committed_total() == 4

    # The record after the hole, written a minute ago: past the gap patience at once.
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    written = producer.send(settings.FIRSTCOME_TOPIC, timestamp_ms=int((time.time() - 60) * 1000),
                            value=encode_participation(uuid.uuid4(), campaign.pk, "e", timezone.now()))
    assert written.get(10).offset == 5
    producer.close()

    caplog.set_level(logging.ERROR, logger="streaming.worker")
    restarted = first_come_worker(settings, expected=5)  # its first poll starts past offset 4
    thread = threading.Thread(target=restarted.run)
    thread.start()
    try:
        poll(lambda: restarted.stalled, timeout=30, message="the partition reported stalled")
        assert metric("firstcome_consumer_stalled_partitions", settings) == 1
        assert any("STALLED" in r.getMessage() and "offsets 4-4" in r.getMessage() for r in caplog.records)
        stream = monitoring_snapshot(campaign.pk)["stream"]
        assert stream["stalled_partitions"] == [0]
        assert stream["partitions"][0]["hole"]["offset"] == 4 and stream["partitions"][0]["hole"]["stalled"]
        time.sleep(1)  # it keeps polling meanwhile: still nothing committed past the hole
        assert committed_total() == 4
        assert not Participation.objects.filter(user_id="e").exists()
    finally:
        restarted.request_stop()
        thread.join(30)


def test_a_batch_whose_commit_is_refused_is_consumed_once_by_its_next_owner(kafka_topics, settings):
    """A rebalance refuses the batch's offset commit: the records are redelivered to the group's
    next owner. Summed over both, the consumed metric counts each record once; the refused ones are
    counted apart, and the redelivered decisions are the ones recorded."""
    campaign = CampaignFactory(total_stock=2)
    publish_requests(settings, campaign, ["a", "b", "c"])

    refused = first_come_worker(settings, expected=3, max_poll_records=100)
    make_consumer = refused.make_consumer

    def refuse(offsets):
        raise CommitFailedError("rebalanced (test)")

    def consumer_whose_commits_are_refused():
        consumer = make_consumer()
        consumer.commit = refuse
        return consumer

    refused.make_consumer = consumer_whose_commits_are_refused
    assert refused.run() == 0
    assert committed_total() == 0
    assert metric("firstcome_consumer_commit_refused_messages_total", settings) == 3
    assert metric("firstcome_consumer_messages_consumed_total", settings) == 0

    assert first_come_worker(settings, expected=3).run() == 0  # the next owner: redelivered
    assert committed_total() == 3
    assert metric("firstcome_consumer_messages_consumed_total", settings) == 3
    assert dict(Participation.objects.values_list("user_id", "status")) == {
        "a": "SUCCESS", "b": "SUCCESS", "c": "SOLD_OUT"}


def test_a_database_refusing_every_write_is_waited_for_and_nothing_is_dead_lettered(kafka_topics, settings):
    """The server refuses every insert for a while (a trigger raising 1114, "table is full", as a
    full disk or tablespace does), then recovers (the trigger dropped): the batch is retried whole
    until then, never split or dead-lettered, and decided afterwards in Kafka order."""
    campaign = CampaignFactory(total_stock=3)
    users = [f"u{i}" for i in range(8)]
    publish_requests(settings, campaign, users)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS participation_table_full")
        cursor.execute("CREATE TRIGGER participation_table_full BEFORE INSERT ON participation FOR EACH ROW "
                       "SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1114, MESSAGE_TEXT = 'The table is full (test trigger)'")
    worker = first_come_worker(settings, expected=len(users), max_poll_records=100, retry_backoff_s=(0.05, 0.2))
    outcome = {}
    running = threading.Thread(target=lambda: outcome.setdefault("exit", worker.run()), daemon=True)
    running.start()
    try:
        # The fault happened: the database refused the batch again and again.
        poll(lambda: metric("firstcome_consumer_database_retries_total", settings) >= 3, timeout=30,
             message="the batch retried on the full table")
        assert Participation.objects.count() == 0
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS participation_table_full")
    running.join(timeout=30)
    assert outcome.get("exit") == 0
    assert metric("firstcome_consumer_dead_lettered_total", settings) == 0
    assert metric("firstcome_consumer_batch_splits_total", settings) == 0
    assert dict(Participation.objects.values_list("user_id", "status")) == {
        **{u: "SUCCESS" for u in users[:3]}, **{u: "SOLD_OUT" for u in users[3:]}}  # Kafka order
    assert committed_total() == len(users)