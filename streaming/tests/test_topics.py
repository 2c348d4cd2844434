"""Offsets read through the Kafka admin protocol from the real broker process."""
import pytest
from kafka import KafkaConsumer
from kafka.errors import UnknownTopicOrPartitionError

from streaming.producer import publish_many
from streaming.topics import admin_client, committed_offsets, end_offsets, ensure_topics


def test_end_and_committed_offsets_of_a_topic_on_one_admin_connection(kafka_broker, settings):
    ensure_topics({"offsets.three": 3})
    publish_many("offsets.three", [(b"same-key", b"m", None) for _ in range(5)])
    consumer = KafkaConsumer("offsets.three", bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
                             group_id="offsets-group", auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=6000)
    taken = 0
    while taken < 5:
        taken += sum(len(records) for records in consumer.poll(timeout_ms=500).values())
    consumer.commit()
    consumer.close()

    admin = admin_client()
    try:
        ends = end_offsets("offsets.three", admin=admin)
        committed = committed_offsets("offsets-group", "offsets.three", admin=admin)
    finally:
        admin.close()
    assert sorted(ends) == sorted(committed) == [0, 1, 2]
    assert sorted(committed.values()) == [0, 0, 5]  # one key: one partition holds all five
    busy = max(committed, key=committed.get)
    # The embedded broker's end offset may sit inside the last batch: behind, never ahead.
    assert 0 < ends[busy] <= 5 and sum(ends.values()) == ends[busy]


def test_end_offsets_of_a_topic_that_does_not_exist(kafka_broker):
    with pytest.raises(UnknownTopicOrPartitionError, match="topic no.such.topic does not exist"):
        end_offsets("no.such.topic")
