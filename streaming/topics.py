"""Topic administration through the Kafka protocol (works on Apache Kafka and on Tansu)."""
import logging

from django.conf import settings
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


def admin_client(bootstrap_servers=None, timeout_ms=5000):
    return KafkaAdminClient(
        bootstrap_servers=bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS,
        client_id="firstcome-admin",
        request_timeout_ms=timeout_ms,
    )


def ensure_topics(partitions_by_topic, *, bootstrap_servers=None, replication_factor=None):
    """Create the topics that do not exist yet; return {topic: partition count} as they are now.

    An existing topic keeps its partition count (Kafka cannot shrink one; growing it would move
    keys between partitions mid-campaign), and the caller is told what it has.
    """
    rf = replication_factor or settings.KAFKA_REPLICATION_FACTOR
    admin = admin_client(bootstrap_servers)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, n, rf) for name, n in partitions_by_topic.items() if name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # created concurrently by another process
            for topic in missing:
                log.info("created topic %s with %d partition(s)", topic.name, topic.num_partitions)
        described = admin.describe_topics(list(partitions_by_topic))
        return {t["name"]: len(t["partitions"]) for t in described}
    finally:
        admin.close()


def committed_offsets(group_id, topic, *, bootstrap_servers=None):
    """{partition: next offset to consume} as committed by a consumer group (absent: none yet)."""
    admin = admin_client(bootstrap_servers)
    try:
        offsets = admin.list_group_offsets({group_id: None}).get(group_id, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items()
            if tp.topic == topic and meta.offset >= 0}
