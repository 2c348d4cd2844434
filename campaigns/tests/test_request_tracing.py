"""A request id (the 202's) is found in the consumer's log of the batch that decided it and in the
headers of its dead letter (campaigns/consumers.py, streaming/worker.py)."""
import logging
import re

import pytest
from kafka import KafkaProducer
from rest_framework.test import APIClient

from campaigns.consumers import DECISIONS_PER_LINE
from testsupport.consumers import first_come_worker
from testsupport.factories import CampaignFactory
from testsupport.kafka import read_topic
from testsupport.polling import poll
from testsupport.publishing import publish_requests
from testsupport.identity import ParticipantClient

pytestmark = pytest.mark.django_db(transaction=True)

DECIDED_LINE = re.compile(r"consume_firstcome: decided (\d+)-(\d+) of (\d+) \((.+)\): (.+)$")


def submit(api, campaign, user_id):
    response = api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": user_id}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["request_id"]


@pytest.mark.slow
def test_the_consumer_logs_each_decided_id_and_dead_letters_carry_theirs(processes, kafka_topics, settings,
                                                                          refusing_trigger):
    campaign = CampaignFactory(total_stock=1)
    api = ParticipantClient()
    ghost_campaign = CampaignFactory()
    ghost = submit(api, ghost_campaign, "ghost")
    ghost_campaign.delete()  # accepted while it existed: rejected as an unknown campaign
    first = submit(api, campaign, "first")
    refused = submit(api, campaign, "poison-1062")  # the database refuses it: isolated
    second = submit(api, campaign, "second")
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    producer.send(settings.FIRSTCOME_TOPIC, b"not json: no request id to tell").get(10)
    producer.close()

    consumer = processes("consume_firstcome")
    dead = {int(dict(m.headers)["source_offset"]): dict(m.headers)
            for m in read_topic(settings.FIRSTCOME_DLQ_TOPIC, expected=3, timeout=30)}
    assert dead[0]["request_id"].decode() == ghost
    assert dead[2]["request_id"].decode() == refused
    assert "request_id" not in dead[4]  # malformed: never decoded far enough to know one

    poll(lambda: f"{second}=SOLD_OUT" in consumer.log_text(), timeout=30, message="the decision line")
    log = consumer.log_text()
    assert f"{first}=SUCCESS" in log
    assert re.search(rf"dead-lettering \S+\[0\]@0 rid={ghost}: unknown campaign", log)
    assert re.search(r"dead-lettering \S+\[0\]@4 rid=-: ", log)
    assert consumer.stop() == 0


def test_a_batch_of_thousands_is_a_few_lines_naming_each_id_once(kafka_topics, settings, caplog):
    count = 2 * DECISIONS_PER_LINE + 100
    campaign = CampaignFactory(total_stock=10)
    published = publish_requests(campaign, [f"u{i}" for i in range(count)])
    worker = first_come_worker(settings, expected=count, max_poll_records=5000)
    with caplog.at_level(logging.INFO, logger="campaigns.consumers"):
        assert worker.run() == 0

    lines = [DECIDED_LINE.match(r.getMessage()) for r in caplog.records if r.name == "campaigns.consumers"]
    assert all(lines)
    # At most one line per DECISIONS_PER_LINE decisions of a batch, plus one per batch for its rest.
    assert len(lines) <= count // DECISIONS_PER_LINE + worker.batches_committed
    pairs = [pair.split("=") for line in lines for pair in line[5].split(" ")]
    assert all(len(line[5].split(" ")) <= DECISIONS_PER_LINE for line in lines)
    assert sorted(rid for rid, _ in pairs) == sorted(str(rid) for rid in published.request_ids)
    assert sum(status == "SUCCESS" for _, status in pairs) == 10
    assert all(line[4].startswith(f"{settings.FIRSTCOME_TOPIC}[0]@") for line in lines)  # where the batch was
