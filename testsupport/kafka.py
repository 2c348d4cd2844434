"""Reading topics and committed offsets back, as a test checks them."""
from django.conf import settings

from lab.processes import wait_until


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
