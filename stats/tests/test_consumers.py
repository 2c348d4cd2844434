"""consume_stats with real processes: API → broker → consume_firstcome → decisions topic →
consume_stats → MariaDB → run_stats_batch."""
import json
import signal
import uuid
from collections import Counter
from types import SimpleNamespace

import orjson
import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from kafka import KafkaProducer
from rest_framework.test import APIClient

from campaigns.coupons import coupon_codes
from campaigns.messages import (
    DECISION_EVENT_FIELDS,
    DECISION_EVENTS_PER_MESSAGE,
    decode_decision_events,
    decode_participation,
    encode_decision_events,
)
from campaigns.models import Participation
from campaigns.services import Decision
from stats.consumers import StatsConsumer, stored_event
from stats.days import today, yesterday
from stats.models import CampaignStats, DecisionEvent
from streaming.worker import PoisonMessage
from testsupport.factories import CampaignFactory, participation_request
from testsupport.kafka import committed_total, read_topic
from testsupport.polling import poll
from testsupport.identity import ParticipantClient

GOOD = {"request_id": "6f1c8a52-3f0e-4c1a-9a57-0d8c4b7e9a10", "campaign_id": 3, "user_id": "u",
        "status": "SOLD_OUT", "topic": "t", "partition": 1, "offset": 9,
        "broker_timestamp": 1_736_953_200_000_001, "received_at": 1_736_953_200_000_000,
        "decided_at": 1_736_953_200_000_002, "coupon_code": None}


def decision_events_message(*events):
    """A decisions-topic message as the first-come consumer writes it: rows under one field list."""
    return json.dumps({"fields": DECISION_EVENT_FIELDS,
                       "rows": [[event[f] for f in DECISION_EVENT_FIELDS] for event in events]}).encode()


def test_a_decision_event_becomes_its_raw_row():
    row = stored_event(GOOD)
    assert str(row["request_id"]) == GOOD["request_id"]
    assert (row["campaign_id"], row["status"], row["received_at_us"], row["decided_at_us"]) == (
        3, "SOLD_OUT", 1_736_953_200_000_000, 1_736_953_200_000_002)


@pytest.mark.parametrize("change, reason", [
    ({"request_id": "nope"}, "request_id is not a UUID"),
    ({"campaign_id": "3"}, "campaign_id is not a positive integer"),
    ({"user_id": "x" * 65}, "user_id is not a string of 1-64 characters"),
    ({"status": "WON"}, "status 'WON' is not one of DUPLICATE, SOLD_OUT, SUCCESS"),
    ({"topic": None}, "topic is not a Kafka topic name"),
    ({"offset": 1.5}, "partition and offset are not a Kafka partition and offset"),
    ({"partition": 2 ** 31}, "partition and offset are not a Kafka partition and offset"),
    ({"offset": 2 ** 63}, "partition and offset are not a Kafka partition and offset"),
    ({"partition": -1}, "partition and offset are not a Kafka partition and offset"),
    ({"campaign_id": 2 ** 63}, "campaign_id is not a positive integer"),
    ({"received_at": 32_503_680_000_000_000}, "received_at is not epoch microseconds"),  # the year 3000
    ({"received_at": 10 ** 30}, "received_at is not epoch microseconds"),
    ({"decided_at": "2025-01-15"}, "decided_at is not epoch microseconds"),
])
def test_a_malformed_event_is_poison_naming_its_field(change, reason):
    with pytest.raises(PoisonMessage) as caught:
        StatsConsumer(topic="t", group_id="g").decode(
            SimpleNamespace(value=decision_events_message(GOOD, {**GOOD, **change})))
    assert caught.value.reason == f"decision event: {reason}"


def submit(api, campaign, user_id):
    response = api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": user_id}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["request_id"]


def stats_offsets(settings, group_id=None):
    return committed_total(group_id or settings.STATS_GROUP_ID, settings.FIRSTCOME_DECISIONS_TOPIC)


def slow_with_processes(test):
    return pytest.mark.slow(pytest.mark.django_db(transaction=True)(test))


@slow_with_processes
def test_burst_through_the_api_ends_in_campaign_stats_equal_to_the_decisions(processes):
    big, small = CampaignFactory(total_stock=20), CampaignFactory(total_stock=5)
    api = ParticipantClient()
    for i in range(40):
        submit(api, big, f"user-{i}")
    for i in range(5):
        submit(api, big, f"user-{i}")  # repeats: DUPLICATE
    for i in range(10):
        submit(api, small, f"user-{i}")

    processes("consume_firstcome")
    processes("consume_stats")
    poll(lambda: Participation.objects.count() == 55 and DecisionEvent.objects.count() == 55,
         message="55 decisions stored raw by consume_stats")

    call_command("run_stats_batch", "--from", str(yesterday()), "--to", str(today()))

    # The truth: the decision table, counted per campaign and local day of receipt.
    truth = Counter((p.campaign_id, timezone.localdate(p.received_at), p.status) for p in Participation.objects.all())
    stats = {(row.campaign_id, row.stats_date): row for row in CampaignStats.objects.all()}
    assert set(stats) == {(campaign_id, day) for campaign_id, day, _ in truth}
    for (campaign_id, day), row in stats.items():
        assert (row.success_count, row.sold_out_count, row.duplicate_count) == (
            truth[campaign_id, day, "SUCCESS"], truth[campaign_id, day, "SOLD_OUT"],
            truth[campaign_id, day, "DUPLICATE"])
    assert sum(row.success_count for row in stats.values()) == 25  # every coupon of both campaigns
    assert sum(row.duplicate_count for row in stats.values()) == 5


@slow_with_processes
def test_issuing_goes_on_while_consume_stats_is_down_and_it_catches_up_from_its_offsets(processes, settings):
    campaign = CampaignFactory(total_stock=30)
    api = ParticipantClient()
    processes("consume_firstcome")
    stats_consumer = processes("consume_stats")
    for i in range(20):
        submit(api, campaign, f"early-{i}")
    poll(lambda: DecisionEvent.objects.count() == 20, message="the first 20 events stored")
    assert stats_consumer.stop(signal.SIGTERM) == 0
    committed = stats_offsets(settings)
    assert committed > 0
    # Forget what was stored: if the restarted consumer re-read from the start, these would return.
    DecisionEvent.objects.all().delete()

    late = {submit(api, campaign, f"late-{i}") for i in range(20)}
    poll(lambda: Participation.objects.count() == 40, message="all 40 decided with consume_stats down")
    assert Counter(Participation.objects.values_list("status", flat=True)) == {"SUCCESS": 30, "SOLD_OUT": 10}
    assert not DecisionEvent.objects.exists()

    processes("consume_stats")
    poll(lambda: DecisionEvent.objects.count() == 20, message="the 20 events published while it was down")
    assert {str(rid) for rid in DecisionEvent.objects.values_list("request_id", flat=True)} == late
    poll(lambda: stats_offsets(settings) > committed, message="offsets committed past the catch-up")


@slow_with_processes
def test_redelivered_events_add_no_rows_and_a_malformed_message_is_dead_lettered(processes, settings):
    campaign = CampaignFactory()
    decisions = [Decision(participation_request(campaign, f"user-{i}", offset=i), status, timezone.now())
                 for i, status in enumerate(["SUCCESS"] * DECISION_EVENTS_PER_MESSAGE + ["SOLD_OUT"] * 100)]
    chunks = encode_decision_events(decisions)  # two messages: a full chunk and 100 events
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    for value in [chunks[0], b"not an event", chunks[1], chunks[0]]:  # the first chunk twice
        producer.send(settings.FIRSTCOME_DECISIONS_TOPIC, value)
    producer.flush()
    producer.close()

    processes("consume_stats")
    dead = read_topic(settings.STATS_DLQ_TOPIC, expected=1, timeout=30)
    assert dict(dead[0].headers)["reason"] == b"not a decision-events message"
    poll(lambda: stats_offsets(settings) >= 4, message="all four messages committed")
    assert DecisionEvent.objects.count() == DECISION_EVENTS_PER_MESSAGE + 100

    # A second group reads the whole topic again: every event is redelivered, no row is added.
    processes("consume_stats", "--group-id", f"{settings.STATS_GROUP_ID}-replay")
    poll(lambda: stats_offsets(settings, f"{settings.STATS_GROUP_ID}-replay") >= 4, message="the replay group consumed everything")
    assert DecisionEvent.objects.count() == DECISION_EVENTS_PER_MESSAGE + 100
    assert Counter(DecisionEvent.objects.values_list("status", flat=True)) == {"SUCCESS": DECISION_EVENTS_PER_MESSAGE, "SOLD_OUT": 100}


@pytest.mark.parametrize("change", [{"status": ["SUCCESS"]}, {"status": {"a": 1}}, {"partition": [1]}])
def test_an_event_with_an_unhashable_or_odd_typed_value_is_poison(change):
    with pytest.raises(PoisonMessage):
        StatsConsumer(topic="t", group_id="g").decode(
            SimpleNamespace(value=decision_events_message(GOOD, {**GOOD, **change})))


def test_fields_that_are_not_names_are_poison():
    value = json.dumps({"fields": [*DECISION_EVENT_FIELDS, ["x"]], "rows": []}).encode()
    with pytest.raises(PoisonMessage, match="fields are not all names"):
        StatsConsumer(topic="t", group_id="g").decode(SimpleNamespace(value=value))


class StatsUntilAllHandled(StatsConsumer):
    def batch_handled(self, polled, result, **kwargs):
        super().batch_handled(polled, result, **kwargs)
        if self.messages_processed + self.messages_dead_lettered >= 4:
            self.request_stop()


@pytest.mark.django_db(transaction=True)
def test_unhashable_status_and_fields_go_to_the_dead_letter_topic_not_a_crash_loop(kafka_topics, settings):
    from prometheus_client import REGISTRY

    from streaming.metrics import ConsumerMetrics
    from streaming.producer import publish_many

    good = [{**GOOD, "request_id": str(uuid.uuid4())} for _ in range(2)]
    unhashable_status = decision_events_message({**GOOD, "status": ["SUCCESS"]})
    unhashable_fields = json.dumps({"fields": [*DECISION_EVENT_FIELDS, {"a": 1}],
                                    "rows": [[GOOD[f] for f in DECISION_EVENT_FIELDS] + [0]]}).encode()
    publish_many(settings.FIRSTCOME_DECISIONS_TOPIC, [(None, value, None) for value in [
        decision_events_message(good[0]), unhashable_status, unhashable_fields, decision_events_message(good[1])]])

    worker = StatsUntilAllHandled(topic=settings.FIRSTCOME_DECISIONS_TOPIC, group_id=settings.STATS_GROUP_ID,
                                  dead_letter_topic=settings.STATS_DLQ_TOPIC)
    worker.metrics = ConsumerMetrics(worker.name, worker.topic)
    assert worker.run() == 0

    dead = read_topic(settings.STATS_DLQ_TOPIC, expected=2)
    assert sorted(int(dict(m.headers)["source_offset"]) for m in dead) == [1, 2]
    assert {str(rid) for rid in DecisionEvent.objects.values_list("request_id", flat=True)} == {
        e["request_id"] for e in good}
    assert stats_offsets(settings) == 4
    assert REGISTRY.get_sample_value("firstcome_consumer_dead_lettered_by_kind_total", {
        "consumer": "consume_stats", "topic": settings.FIRSTCOME_DECISIONS_TOPIC, "kind": "malformed"}) == 2


@hypothesis_settings(max_examples=300)
@given(timestamp=st.integers(-2 ** 63, 2 ** 63 - 1), received_at=st.integers(-2 ** 63, 2 ** 63 - 1),
       campaign_id=st.integers(1, 2 ** 64 - 1), status=st.sampled_from(["SUCCESS", "SOLD_OUT", "DUPLICATE"]))
def test_what_the_decider_accepts_the_statistics_store(timestamp, received_at, campaign_id, status):
    """Found by review: a broker timestamp of -1 was decided, then refused by the statistics with
    the up to 999 other events of its message. One range of moments now holds both
    (campaigns.epoch.is_moment_us)."""
    request = {"request_id": str(uuid.uuid4()), "campaign_id": campaign_id, "user_id": "u", "received_at": received_at}
    try:
        decoded = decode_participation(SimpleNamespace(value=orjson.dumps(request), topic="t", partition=0,
                                                       offset=0, timestamp=timestamp))
    except PoisonMessage:
        return
    code = coupon_codes(1)[0] if status == "SUCCESS" else None
    [message] = encode_decision_events([Decision(decoded, status, timezone.now(), code)])
    [event] = decode_decision_events(SimpleNamespace(value=message))
    stored_event(event)  # raises nothing
