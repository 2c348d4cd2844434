"""A topic weaker than the settings ask for is reported, by the web's /readyz and the consumers',
from what the broker itself says of it (streaming/topics.py)."""
import pytest

from streaming.topics import DurabilityCheck, TopicDurability, durability_shortfalls, topic_durability


@pytest.mark.parametrize("durability, factor, in_sync, expected", [
    (TopicDurability("t", 3, 2), 3, 2, []),
    (TopicDurability("t", 3, None), 3, 1, []),
    (TopicDurability("t", 1, None), 3, 2, ["t has 1 replica(s), KAFKA_REPLICATION_FACTOR is 3",
                                           "t: the broker does not report min.insync.replicas (KAFKA_MIN_INSYNC_REPLICAS is 2)"]),
    (TopicDurability("t", 3, 1), 3, 2, ["t has min.insync.replicas=1, KAFKA_MIN_INSYNC_REPLICAS is 2"]),
    (TopicDurability("t", None, None), 1, 1, ["t does not exist"]),
])
def test_each_way_a_topic_falls_short_is_named(durability, factor, in_sync, expected):
    assert durability_shortfalls({"t": durability}, replication_factor=factor, min_insync=in_sync) == expected


@pytest.mark.slow
def test_what_the_embedded_broker_says_of_a_topic(kafka_topics, settings):
    found = topic_durability([settings.FIRSTCOME_TOPIC, "no.such.topic.here"])
    # One replica; min.insync.replicas as create_topics set it (KAFKA_MIN_INSYNC_REPLICAS, 1 here).
    assert found[settings.FIRSTCOME_TOPIC] == TopicDurability(settings.FIRSTCOME_TOPIC, 1, 1)
    assert found["no.such.topic.here"].replicas is None


@pytest.mark.slow
@pytest.mark.django_db
def test_the_webs_readiness_reports_a_topic_with_fewer_replicas_than_configured_and_stays_in_service(
        kafka_topics, settings):
    """Reported in /readyz and in the gauge FirstcomeTopicsWeakerThanConfigured reads, but not a
    failing check: every web process would leave the load balancer at once."""
    from prometheus_client import REGISTRY

    from campaign_site import health

    assert health.readiness()["ready"]
    settings.KAFKA_REPLICATION_FACTOR, settings.KAFKA_MIN_INSYNC_REPLICAS = 3, 2
    health._topics_check = None  # the check re-reads the broker (it keeps a reading for a minute)
    report = health.readiness()
    assert report["ready"] and report["failing"] == []
    assert f"{settings.FIRSTCOME_TOPIC} has 1 replica(s), KAFKA_REPLICATION_FACTOR is 3" in report["checks"]["broker"]["detail"]
    assert REGISTRY.get_sample_value("firstcome_topic_durability_shortfalls") == 2
    health._topics_check = None
    settings.KAFKA_REPLICATION_FACTOR, settings.KAFKA_MIN_INSYNC_REPLICAS = 1, 1
    health.readiness()
    assert REGISTRY.get_sample_value("firstcome_topic_durability_shortfalls") == 0


@pytest.mark.slow
def test_a_durability_reading_is_kept_for_its_interval(kafka_topics, settings):
    check = DurabilityCheck([settings.FIRSTCOME_TOPIC], every_s=3600)
    assert check.shortfalls() == []
    settings.KAFKA_REPLICATION_FACTOR = 3
    assert check.shortfalls() == []  # the reading of a moment ago
    check.every_s = 0
    assert check.shortfalls() == [f"{settings.FIRSTCOME_TOPIC} has 1 replica(s), KAFKA_REPLICATION_FACTOR is 3"]
