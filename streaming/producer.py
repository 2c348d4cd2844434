"""One Kafka producer per process, created lazily after any fork (gunicorn workers, consumer
processes), shared by all threads of that process (KafkaProducer is thread-safe)."""
import logging
import os
import threading
import time

from django.conf import settings
from kafka import KafkaProducer
from kafka.errors import KafkaError

log = logging.getLogger(__name__)

_lock = threading.Lock()
_producer = None
_producer_pid = None


class PublishError(Exception):
    """The broker did not acknowledge the message within the time budget."""


def _create_producer():
    budget = settings.KAFKA_PUBLISH_TIMEOUT_MS
    return KafkaProducer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        client_id=f"firstcome-{os.getpid()}",
        # Idempotent, acks=all (kafka-python's defaults, spelled out): an acknowledged request is
        # on every in-sync replica, and a retried send is never written twice.
        enable_idempotence=True,
        acks="all",
        linger_ms=1,
        # A down broker must turn into a fast 503, not a request that hangs for a minute.
        max_block_ms=budget,
        bootstrap_timeout_ms=budget,
        request_timeout_ms=max(budget - 500, 500),
        delivery_timeout_ms=budget + 500,
        retry_backoff_ms=50,
        reconnect_backoff_max_ms=1000,
    )


def get_producer():
    global _producer, _producer_pid
    if _producer is not None and _producer_pid == os.getpid():
        return _producer
    with _lock:
        if _producer is None or _producer_pid != os.getpid():
            _producer = _create_producer()
            _producer_pid = os.getpid()
        return _producer


def reset_producer(timeout=2):
    """Drop this process's producer (after a fork, at shutdown, between tests)."""
    global _producer, _producer_pid
    with _lock:
        producer, _producer = _producer, None
        owned = _producer_pid == os.getpid()
        _producer_pid = None
    if producer is not None and owned:
        try:
            producer.close(timeout=timeout)
        except Exception:  # closing a producer whose broker is gone must not fail shutdown
            log.warning("closing the Kafka producer failed", exc_info=True)


def publish(topic, value, *, key=None, headers=None, timeout_ms=None):
    """Send one message and wait for the broker's acknowledgement; return its RecordMetadata."""
    timeout_ms = settings.KAFKA_PUBLISH_TIMEOUT_MS if timeout_ms is None else timeout_ms
    deadline = time.monotonic() + timeout_ms / 1000
    try:
        future = get_producer().send(topic, value=value, key=key, headers=headers)
        return future.get(timeout=max(deadline - time.monotonic(), 0.05))
    except KafkaError as exc:
        raise PublishError(f"Kafka did not acknowledge the message: {exc.__class__.__name__}") from exc


def publish_many(topic, messages, *, timeout_ms=None):
    """Send (key, value, headers) triples and wait until every one is acknowledged."""
    timeout_ms = settings.KAFKA_PUBLISH_TIMEOUT_MS * 5 if timeout_ms is None else timeout_ms
    deadline = time.monotonic() + timeout_ms / 1000
    try:
        producer = get_producer()
        futures = [producer.send(topic, value=v, key=k, headers=h) for k, v, h in messages]
        producer.flush(timeout=max(deadline - time.monotonic(), 0.05))
        return [f.get(timeout=max(deadline - time.monotonic(), 0.05)) for f in futures]
    except KafkaError as exc:
        raise PublishError(f"Kafka did not acknowledge the messages: {exc.__class__.__name__}") from exc
