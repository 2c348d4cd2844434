"""End to end with real processes: API → broker → consume_firstcome (a child process) → MariaDB."""
import json
import signal

import pytest
from kafka import KafkaProducer
from rest_framework.test import APIClient

from campaigns import selectors
from campaigns.messages import decode_decision_events
from campaigns.models import Participation
from testsupport.factories import CampaignFactory
from testsupport.kafka import committed_total, read_topic
from testsupport.polling import poll
from testsupport.identity import ParticipantClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def submit(api, campaign, user_id):
    response = api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": user_id}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["request_id"]


def decided(count):
    return lambda: Participation.objects.count() >= count


@pytest.mark.parametrize("mode", ["batch", "per-event"])
def test_burst_of_100_for_stock_50_and_a_user_who_sends_five_times(processes, kafka_topics, settings, mode):
    campaign = CampaignFactory(total_stock=50)
    api = ParticipantClient()
    request_ids = [submit(api, campaign, f"user-{i:03d}") for i in range(100)]
    repeat_ids = [submit(api, campaign, "user-000") for _ in range(4)]  # user-000 sent 5 times in all

    consumer = processes("consume_firstcome", "--mode", mode)
    poll(decided(104), message="all 104 requests decided")

    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": 50, "SOLD_OUT": 50, "DUPLICATE": 4}
    campaign.refresh_from_db()
    assert campaign.remaining_stock == 0
    statuses = [api.get(f"/api/participations/{rid}").json()["status"] for rid in request_ids + repeat_ids]
    assert statuses[:50] == ["SUCCESS"] * 50  # Kafka order = arrival order: the first 50 win
    assert statuses[50:100] == ["SOLD_OUT"] * 50
    assert statuses[100:] == ["DUPLICATE"] * 4
    assert api.get(f"/api/campaigns/{campaign.pk}/participations/user-000").json()["status"] == "SUCCESS"

    # Kafka coordinates are recorded for every request, in offset order.
    offsets = list(Participation.objects.order_by("offset").values_list("offset", flat=True))
    assert offsets == list(range(104))
    poll(lambda: committed_total() >= 104, message="offsets committed")

    # One decision event per request, published after the DB commit, for the statistics.
    def events_in(messages):
        return [e for m in messages for e in decode_decision_events(m)]

    events = events_in(read_topic(settings.FIRSTCOME_DECISIONS_TOPIC,
                                  until=lambda got: len(events_in(got)) >= 104))
    assert sorted(e["request_id"] for e in events) == sorted(request_ids + repeat_ids)
    assert sum(e["status"] == "SUCCESS" for e in events) == 50

    assert consumer.stop(signal.SIGTERM) == 0, consumer.log_text()


def test_poison_messages_go_to_the_dead_letter_topic_and_the_stream_goes_on(processes, kafka_topics, settings):
    campaign = CampaignFactory(total_stock=5)
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    producer.send(settings.FIRSTCOME_TOPIC, b"this is not json")
    producer.send(settings.FIRSTCOME_TOPIC, json.dumps({"campaign_id": campaign.pk}).encode())
    producer.flush()
    producer.close()
    api = ParticipantClient()
    unknown = CampaignFactory()
    unknown_id = unknown.pk
    submit(api, unknown, "ghost")
    unknown.delete()  # accepted while it existed, gone by the time it is decided
    good = submit(api, campaign, "after-the-poison")

    consumer = processes("consume_firstcome")
    dead = read_topic(settings.FIRSTCOME_DLQ_TOPIC, expected=3, timeout=30)
    reasons = sorted(dict(m.headers)["reason"].decode() for m in dead)
    assert reasons == ["missing field 'request_id'", "not valid JSON", f"unknown campaign {unknown_id}"]
    assert {dict(m.headers)["source_topic"].decode() for m in dead} == {settings.FIRSTCOME_TOPIC}
    poll(decided(1))
    assert ParticipantClient().get(f"/api/participations/{good}").json()["status"] == "SUCCESS"
    poll(lambda: committed_total() >= 4, message="offsets committed past the poison")
    assert consumer.stop() == 0


def test_redelivering_every_message_changes_nothing(processes, kafka_topics, settings, child_env):
    campaign = CampaignFactory(total_stock=10)
    api = ParticipantClient()
    for i in range(30):
        submit(api, campaign, f"u{i % 20}")  # 20 users, 10 of them twice
    first = processes("consume_firstcome")
    poll(decided(30))
    poll(lambda: committed_total() >= 30)
    first.stop()
    before = sorted(Participation.objects.values_list("request_id", "status", "offset"))

    # A second group starts from offset 0: the whole stream is delivered again.
    replay = processes("consume_firstcome", "--group-id", "replay",
                       env=child_env(FIRSTCOME_GROUP_ID="replay"))
    poll(lambda: committed_total("replay") >= 30, message="replay consumed everything")
    assert replay.stop() == 0

    assert sorted(Participation.objects.values_list("request_id", "status", "offset")) == before
    campaign.refresh_from_db()
    assert campaign.remaining_stock == 0
    assert selectors.outcome_counts(campaign.pk) == {"SUCCESS": 10, "SOLD_OUT": 10, "DUPLICATE": 10}


def test_a_request_the_database_refuses_is_dead_lettered_and_the_rest_decided(processes, kafka_topics, settings,
                                                                              refusing_trigger):
    """A consumer (re)started on a batch holding a record the database refuses (a real trigger,
    streaming/tests/test_worker_isolation.py) keeps running: that one record is dead-lettered."""
    campaign = CampaignFactory(total_stock=2)
    api = ParticipantClient()
    good = [submit(api, campaign, user) for user in ("first", "second")]
    refused = submit(api, campaign, "poison-1062")
    good.append(submit(api, campaign, "third"))

    consumer = processes("consume_firstcome")
    dead = read_topic(settings.FIRSTCOME_DLQ_TOPIC, expected=1, timeout=30)
    assert json.loads(dead[0].value)["request_id"] == refused
    assert dict(dead[0].headers)["source_offset"] == b"2"
    assert "IntegrityError" in dict(dead[0].headers)["reason"].decode()
    poll(decided(3))
    assert [api.get(f"/api/participations/{rid}").json()["status"] for rid in good] == [
        "SUCCESS", "SUCCESS", "SOLD_OUT"]
    poll(lambda: committed_total() >= 4, message="offsets committed past the refused request")
    assert consumer.stop() == 0
