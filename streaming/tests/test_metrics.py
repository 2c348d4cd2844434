"""A consumer process's own Prometheus metrics on --metrics-port, after a known burst."""
import socket

import pytest
from kafka import KafkaProducer
from rest_framework.test import APIClient

from lab.embedded import free_port, port_open
from testsupport.factories import CampaignFactory
from testsupport.polling import poll
from testsupport.web import metric_value, scrape_metrics
from testsupport.identity import ParticipantClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_consumer_metrics_after_a_burst(processes, kafka_topics, settings):
    campaign = CampaignFactory(total_stock=30)
    api = ParticipantClient()
    for i in range(60):
        api.post(f"/api/campaigns/{campaign.pk}/participations", {"user_id": f"u{i % 50}"}, format="json")
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    producer.send(settings.FIRSTCOME_TOPIC, b"not json")
    producer.close()

    port = free_port()
    metrics_url = f"http://127.0.0.1:{port}"
    processes("consume_firstcome", "--metrics-port", str(port), "--metrics-addr", "127.0.0.1")
    labels = {"consumer": "consume_firstcome", "topic": settings.FIRSTCOME_TOPIC}
    consumed = "firstcome_consumer_messages_consumed_total"
    poll(lambda: port_open("127.0.0.1", port) and metric_value(scrape_metrics(metrics_url), consumed, **labels) == 61,
         message="61 messages consumed in the metrics")

    samples = scrape_metrics(metrics_url)
    assert metric_value(samples, "firstcome_decisions_total", outcome="SUCCESS") == 30
    assert metric_value(samples, "firstcome_decisions_total", outcome="SOLD_OUT") == 20
    assert metric_value(samples, "firstcome_decisions_total", outcome="DUPLICATE") == 10
    assert metric_value(samples, "firstcome_consumer_dead_lettered_total", **labels) == 1
    batches = metric_value(samples, "firstcome_consumer_batch_size_count", **labels)
    assert batches >= 1
    assert metric_value(samples, "firstcome_consumer_batch_size_sum", **labels) == 61
    polls = metric_value(samples, "firstcome_consumer_poll_records_count", **labels)
    assert 1 <= polls and metric_value(samples, "firstcome_consumer_poll_records_sum", **labels) >= 61
    assert metric_value(samples, "firstcome_consumer_batch_seconds_count", **labels) == batches
    assert metric_value(samples, "firstcome_consumer_db_commit_seconds_count", **labels) == batches
    assert metric_value(samples, "firstcome_consumer_db_commit_seconds_sum", **labels) > 0
    assert metric_value(samples, "firstcome_consumer_lag_messages", partition="0", **labels) == 0
    assert metric_value(samples, "process_cpu_seconds_total") > 0  # what the consumer costs, too


def test_a_metrics_port_in_use_stops_the_command_with_a_message(processes, kafka_topics):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        consumer = processes("consume_firstcome", "--metrics-port", str(port), "--metrics-addr", "127.0.0.1")
        consumer.process.wait(60)
    assert consumer.process.returncode != 0
    assert f"cannot serve metrics on 127.0.0.1:{port}" in consumer.log_text()


def test_a_metrics_port_out_of_range_is_refused(processes, kafka_topics):
    consumer = processes("consume_firstcome", "--metrics-port", "70000")
    consumer.process.wait(60)
    assert consumer.process.returncode != 0
    assert "--metrics-port must be between 0 (off) and 65535" in consumer.log_text()
