"""Topic administration through the Kafka protocol (works on Apache Kafka and on Tansu)."""
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic, OffsetSpec
from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError

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


@dataclass(frozen=True)
class TopicDurability:
    """What the broker says of a topic: its replicas (the fewest of any partition; None: the topic
    does not exist) and its min.insync.replicas (None: the broker does not report it, as the
    embedded broker does not)."""

    topic: str
    replicas: int | None
    min_insync: int | None


def topic_durability(topics, *, bootstrap_servers=None, admin=None) -> dict[str, TopicDurability]:
    with _admin(admin, bootstrap_servers) as client:
        described = {t["name"]: t for t in client.describe_topics(list(topics))}
        configs = {}
        try:
            answer = client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in topics],
                                             config_filter="all")
            configs = answer.get("topic", {}) if isinstance(answer, dict) else {}
        except KafkaError as exc:  # a broker that does not answer DescribeConfigs: unknown, not weak
            log.info("topic configuration not readable: %s", type(exc).__name__)
    found = {}
    for name in topics:
        topic = described.get(name)
        partitions = topic["partitions"] if topic and not topic.get("error_code") else []
        replicas = min((len(p["replica_nodes"]) for p in partitions), default=None)
        setting = (configs.get(name) or {}).get("min.insync.replicas")
        value = setting.get("value") if isinstance(setting, dict) else setting
        found[name] = TopicDurability(name, replicas, int(value) if value not in (None, "") else None)
    return found


def durability_shortfalls(durabilities, *, replication_factor=None, min_insync=None) -> list[str]:
    """What makes each topic weaker than the settings ask (KAFKA_REPLICATION_FACTOR,
    KAFKA_MIN_INSYNC_REPLICAS), one sentence each; [] when none is."""
    replication_factor = replication_factor or settings.KAFKA_REPLICATION_FACTOR
    min_insync = min_insync or settings.KAFKA_MIN_INSYNC_REPLICAS
    shortfalls = []
    for d in durabilities.values():
        if d.replicas is None:
            shortfalls.append(f"{d.topic} does not exist")
            continue
        if d.replicas < replication_factor:
            shortfalls.append(f"{d.topic} has {d.replicas} replica(s), KAFKA_REPLICATION_FACTOR is {replication_factor}")
        if d.min_insync is not None and d.min_insync < min_insync:
            shortfalls.append(f"{d.topic} has min.insync.replicas={d.min_insync}, KAFKA_MIN_INSYNC_REPLICAS is "
                              f"{min_insync}")
        elif d.min_insync is None and min_insync > 1:
            shortfalls.append(f"{d.topic}: the broker does not report min.insync.replicas "
                              f"(KAFKA_MIN_INSYNC_REPLICAS is {min_insync})")
    return shortfalls


class DurabilityCheck:
    """durability_shortfalls of `topics`, read from the broker at most every `every_s` (each read
    is an admin client's round trips): what a readiness probe, asked every few seconds, reports."""

    def __init__(self, topics, *, every_s: float = 60.0):
        self.topics = list(topics)
        self.every_s = every_s
        self._checked_at = None
        self._shortfalls = []
        self._lock = threading.Lock()

    def shortfalls(self, *, timeout_s: float = 2.0) -> list[str]:
        with self._lock:
            if self._checked_at is not None and time.monotonic() - self._checked_at < self.every_s:
                return self._shortfalls
            admin = admin_client(timeout_ms=int(timeout_s * 1000), bootstrap_timeout_ms=int(timeout_s * 1000))
            try:
                self._shortfalls = durability_shortfalls(topic_durability(self.topics, admin=admin))
            finally:
                admin.close()
            self._checked_at = time.monotonic()
            if self._shortfalls:
                log.error("topics weaker than configured: %s", "; ".join(self._shortfalls))
            return self._shortfalls
