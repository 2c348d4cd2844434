"""A consumer process's own Prometheus metrics on --metrics-port, after a known burst."""
import json
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


def test_a_consumer_that_cannot_publish_its_decisions_is_not_ready_until_it_can(settings, tmp_path, monkeypatch):
    """The broker is stopped right after a batch's database commit, before its decision events go
    out (a real broker process, gone): the consumer retries, its /readyz turns 503 and the gauge the
    alert reads counts the seconds; a broker back on the same port lets it publish, and it is ready
    again."""
    import threading
    import urllib.error
    import urllib.request

    from lab.embedded import EmbeddedBroker
    from streaming import metrics
    from streaming.producer import reset_producer
    from streaming.topics import ensure_topics
    from testsupport.consumers import first_come_worker
    from testsupport.publishing import publish_requests

    monkeypatch.setattr(metrics, "NOT_READY_AFTER_S", 1)
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log").start()
    replacement = None
    settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap_servers]
    topics = {settings.FIRSTCOME_TOPIC: 1, settings.FIRSTCOME_DLQ_TOPIC: 1, settings.FIRSTCOME_DECISIONS_TOPIC: 1}
    try:
        reset_producer()
        ensure_topics(topics)
        campaign = CampaignFactory(total_stock=5)
        publish_requests(campaign, ["a", "b", "c"])
        worker = first_come_worker(settings, expected=3, max_poll_records=100, retry_backoff_s=(0.1, 0.5),
                                   decisions_topic=settings.FIRSTCOME_DECISIONS_TOPIC)
        port = free_port()
        metrics.serve(port, "127.0.0.1", worker=worker)
        worker.metrics = metrics.ConsumerMetrics(worker.name, worker.topic, worker=worker)
        original = worker.after_commit

        def broker_gone_first(items, result):
            if broker.process.poll() is None:
                broker.stop()  # the fault: the batch is committed, its events have nowhere to go
            return original(items, result)

        worker.after_commit = broker_gone_first
        running = threading.Thread(target=worker.run, daemon=True)
        running.start()

        def readyz():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as refused:
                return refused.code, json.loads(refused.read())

        poll(lambda: readyz()[0] == 503, timeout=30, message="/readyz 503 while the decisions cannot be published")
        assert readyz()[1]["failing"] == ["publish"]
        labels = {"consumer": "consume_firstcome", "topic": settings.FIRSTCOME_TOPIC}
        assert metric_value(scrape_metrics(f"http://127.0.0.1:{port}"), "firstcome_consumer_publish_failing_seconds",
                            **labels) >= 1
        replacement = EmbeddedBroker(port=broker.port, log_path=tmp_path / "tansu-2.log").start()
        ensure_topics(topics)
        poll(lambda: readyz()[0] == 200, timeout=60, message="ready again once the events are published")
        running.join(timeout=60)
        assert not running.is_alive() and worker.messages_processed == 3
        assert metric_value(scrape_metrics(f"http://127.0.0.1:{port}"), "firstcome_consumer_publish_failing_seconds",
                            **labels) == 0
    finally:
        reset_producer()
        for b in (replacement, broker):
            if b:
                b.stop()
