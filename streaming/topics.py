"""Topic administration through the Kafka protocol (works on Apache Kafka and on Tansu)."""
import logging
from contextlib import contextmanager

from django.conf import settings
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic, OffsetSpec
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

log = logging.getLogger(__name__)


def admin_client(bootstrap_servers=None, timeout_ms=5000, bootstrap_timeout_ms=None):
    """bootstrap_timeout_ms bounds the first connection (kafka-python waits 30 s by default)."""
    extra = {"bootstrap_timeout_ms": bootstrap_timeout_ms} if bootstrap_timeout_ms else {}
    return KafkaAdminClient(
        bootstrap_servers=bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS,
        client_id="firstcome-admin",
        request_timeout_ms=timeout_ms,
        **extra,
    )


def ensure_topics(partitions_by_topic, *, bootstrap_servers=None, replication_factor=None):
    """Create the topics that do not exist yet; return {topic: partition count} as they are now.

    An existing topic keeps its partition count (Kafka cannot shrink one; growing it would move
    keys between partitions mid-campaign), and the caller is told what it has.
    """
    rf = replication_factor or settings.KAFKA_REPLICATION_FACTOR
    configs = {"min.insync.replicas": str(min(settings.KAFKA_MIN_INSYNC_REPLICAS, rf))}
    admin = admin_client(bootstrap_servers)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, n, rf, topic_configs=configs) for name, n in partitions_by_topic.items()
                   if name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # created concurrently by another process
            for topic in missing:
                log.info("created topic %s with %d partition(s), %d replica(s), min.insync.replicas=%s",
                         topic.name, topic.num_partitions, rf, configs["min.insync.replicas"])
        described = admin.describe_topics(list(partitions_by_topic))
        return {t["name"]: len(t["partitions"]) for t in described}
    finally:
        admin.close()


def committed_offsets(group_id, topic, *, bootstrap_servers=None, admin=None):
    """{partition: next offset to consume} as committed by a consumer group (absent: none yet)."""
    with _admin(admin, bootstrap_servers) as client:
        offsets = client.list_group_offsets({group_id: None}).get(group_id, {})
    return {tp.partition: meta.offset for tp, meta in offsets.items()
            if tp.topic == topic and meta.offset >= 0}


def end_offsets(topic, *, bootstrap_servers=None, admin=None):
    """{partition: offset the next message will get}. The embedded broker (Tansu) can answer an
    offset inside the last produced batch, so there it trails by up to one batch: right for a
    rate, not for an exact count (count messages for that)."""
    with _admin(admin, bootstrap_servers) as client:
        described = client.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition_index"]) for t in described
                      if t["name"] == topic and not t["error_code"] for p in t["partitions"]]
        if not partitions:
            raise UnknownTopicOrPartitionError(f"topic {topic} does not exist")
        latest = client.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
    return {tp.partition: found.offset for tp, found in latest.items()}


@contextmanager
def _admin(admin, bootstrap_servers):
    """The caller's admin client (several calls on one connection), or a new one closed after."""
    if admin is not None:
        yield admin
        return
    admin = admin_client(bootstrap_servers)
    try:
        yield admin
    finally:
        admin.close()
