"""One Kafka producer per process, created lazily after any fork (gunicorn workers, consumer
processes), shared by all threads of that process (KafkaProducer is thread-safe) and by its
event loop (publish_async, the ASGI ingest)."""
import asyncio
import logging
import os
import threading
import time

from django.conf import settings
from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

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
        linger_ms=settings.KAFKA_LINGER_MS,
        # kafka-python's own client metrics (never exported here) cost ~15% of every send.
        metrics_enabled=False,
        # A down broker must turn into a fast 503, not a request that hangs for a minute.
        max_block_ms=budget,
        bootstrap_timeout_ms=budget,
        request_timeout_ms=max(budget - 500, 500),
        delivery_timeout_ms=budget + 500,
        retry_backoff_ms=50,
        reconnect_backoff_max_ms=1000,
    )


def get_producer(timeout=None):
    """This process's producer, created on first use. `timeout` bounds the wait for another
    thread that is creating it. While the broker is known to be down, only the circuit's probe
    makes a new one (against a down broker that takes the whole publish budget)."""
    global _producer, _producer_pid
    if (producer := _current_producer()) is not None:
        return producer
    if not _lock.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
        raise PublishError("the Kafka producer is still connecting")
    try:
        if _producer is None or _producer_pid != os.getpid():
            _circuit.check()
            _producer = _create_producer()
            _producer_pid = os.getpid()
        return _producer
    except KafkaError as exc:  # no broker answered within bootstrap_timeout_ms
        raise PublishError(f"cannot connect to Kafka: {exc.__class__.__name__}") from exc
    finally:
        _lock.release()


def _current_producer():
    """This process's producer if it has one (a forked child has none of its own yet)."""
    return _producer if _producer_pid == os.getpid() else None


def _replace_producer(new):
    global _producer, _producer_pid
    with _lock:
        old, _producer, _producer_pid = _producer, new, os.getpid()
    if old is not None:
        try:
            old.close(timeout=0)  # fails what it still holds: none of it was acknowledged
        except Exception:
            log.warning("closing a failed Kafka producer failed", exc_info=True)


class _BrokerCircuit:
    """After a failed publish: fail fast, and replace the producer once the broker answers again.

    Fail fast: without it every request of an outage waits KAFKA_PUBLISH_TIMEOUT_MS for an ack that
    cannot come, and under load requests queue for gunicorn's threads on top of that (measured, 24
    clients on 2 workers x 8 threads, 1.5 s budget, 6 s outage: 26 answers, the slowest after
    3.1 s; with the circuit, 1,300+ answers, none after 2 s). While the circuit is open, publishes
    of this process are refused at once (nothing is sent, so the 503 is as true as a slow one),
    and those already waiting give up.

    Replace: a background thread probes the broker with a new producer until it gets the topic's
    metadata, then makes it the process's producer and closes the circuit. The old one is not
    reused: an idempotent producer's id and sequence numbers were issued by the broker, and one
    that lost them (the embedded broker restarted empty; a Kafka partition whose log was lost)
    answers UnknownProducerId / OutOfOrderSequence, after which kafka-python's producer never gets
    an acknowledgement again (measured: no 202 for 60 s after the broker came back).

    Per process, nothing to tune.
    """

    def __init__(self):
        self._open_in = None  # pid of the process where it is open (a forked child starts closed)
        self._lock = threading.Lock()

    @property
    def open(self):
        return self._open_in == os.getpid()

    def check(self):
        if self.open:
            raise PublishError("broker unavailable: a publish failed and it has not answered since")

    def trip(self, topic):
        with self._lock:
            if self.open:
                return
            self._open_in = os.getpid()
        log.warning("Kafka publish failed: refusing publishes until the broker answers again")
        threading.Thread(target=self._probe, args=(topic,), daemon=True, name="kafka-probe").start()

    def close(self):
        self._open_in = None

    def _probe(self, topic):
        pause = 0.1
        while self.open:
            candidate = None
            try:
                candidate = _create_producer()
                candidate.partitions_for(topic)  # a new producer has no metadata: asks the broker
            except KafkaError:
                if candidate is not None:
                    candidate.close(timeout=0)
                time.sleep(pause)
                pause = min(pause * 2, 1.0)
                continue
            if not self.open:  # reset meanwhile
                candidate.close(timeout=0)
                return
            _replace_producer(candidate)
            self.close()
            log.info("Kafka answers again: publishing resumes")
            return


_circuit = _BrokerCircuit()


def reset_producer(timeout=2):
    """Drop this process's producer (after a fork, at shutdown, between tests)."""
    global _producer, _producer_pid
    with _lock:
        producer, _producer = _producer, None
        owned = _producer_pid == os.getpid()
        _producer_pid = None
    _circuit.close()
    if producer is not None and owned:
        try:
            producer.close(timeout=timeout)
        except Exception:  # closing a producer whose broker is gone must not fail shutdown
            log.warning("closing the Kafka producer failed", exc_info=True)


def publish(topic, value, *, key=None, headers=None, timeout_ms=None):
    """Send one message and wait for the broker's acknowledgement; return its RecordMetadata.
    PublishError within the budget if it is not acknowledged, at once while the broker is known
    to be down (_BrokerCircuit)."""
    timeout_ms = settings.KAFKA_PUBLISH_TIMEOUT_MS if timeout_ms is None else timeout_ms
    deadline = time.monotonic() + timeout_ms / 1000
    _circuit.check()
    try:
        producer = get_producer(timeout=deadline - time.monotonic())
        try:
            return _acknowledged(producer.send(topic, value=value, key=key, headers=headers), deadline)
        except KafkaError as exc:
            raise PublishError(f"Kafka did not acknowledge the message: {exc.__class__.__name__}") from exc
    except PublishError:
        _circuit.trip(topic)
        raise


def _acknowledged(future, deadline):
    """future.get() within the deadline, given up as soon as another request of this process has
    found the broker down: a request that started just after the broker died would otherwise wait
    its whole budget on top of its time queued for a thread."""
    while True:
        remaining = deadline - time.monotonic()
        try:
            return future.get(timeout=max(min(remaining, 0.05), 0.001))
        except KafkaTimeoutError:
            if future.is_done or remaining <= 0.05:
                raise
            _circuit.check()


async def publish_async(topic, value, *, key=None, headers=None, timeout_ms=None):
    """publish() for an event loop: the same acknowledgement, budget and circuit, without a thread
    per waiting request. The producer's IO thread completes the send and wakes the loop.

    What can block (making the producer, a topic's first metadata) runs in the loop's executor;
    after that a send only appends to the producer's buffer. A full buffer (the broker slower than
    the ingest for max_block_ms) would block the loop, so the circuit trips on that too.
    """
    timeout_ms = settings.KAFKA_PUBLISH_TIMEOUT_MS if timeout_ms is None else timeout_ms
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_ms / 1000
    _circuit.check()
    try:
        producer = _current_producer()
        if producer is None:
            producer = await loop.run_in_executor(None, get_producer, timeout_ms / 1000)
        try:
            if _topic_ready.get(topic) is not producer:
                await loop.run_in_executor(None, producer.partitions_for, topic)
                _topic_ready[topic] = producer
            future = producer.send(topic, value=value, key=key, headers=headers)
            return await _acknowledged_async(future, deadline, loop)
        except KafkaError as exc:
            raise PublishError(f"Kafka did not acknowledge the message: {exc.__class__.__name__}") from exc
    except PublishError:
        _circuit.trip(topic)
        raise


_topic_ready = {}  # topic -> the producer that has its metadata: its sends do not block


async def _acknowledged_async(future, deadline, loop):
    """_acknowledged() awaiting instead of blocking: gives up at the deadline, or as soon as
    another request of this process has found the broker down (checked every 50 ms by a timer;
    asyncio.wait in a loop did the same at ~5 % of a request's CPU)."""
    settled = loop.create_future()

    def wake(_):  # on the producer's IO thread
        try:
            loop.call_soon_threadsafe(_settle, settled)
        except RuntimeError:  # the loop closed meanwhile (worker exiting): nobody is waiting
            pass

    def check():
        if settled.done():
            return
        try:
            _circuit.check()
        except PublishError as exc:
            settled.set_exception(exc)
            return
        if loop.time() >= deadline:
            settled.set_exception(KafkaTimeoutError("no acknowledgement within the publish budget"))
        else:
            timer[0] = loop.call_later(min(deadline - loop.time(), 0.05), check)

    future.add_both(wake)
    timer = [loop.call_later(min(deadline - loop.time(), 0.05), check)]
    try:
        await settled
    finally:
        timer[0].cancel()
    if future.failed():
        raise future.exception
    return future.value


def _settle(settled):
    if not settled.done():
        settled.set_result(None)


def publish_many(topic, messages, *, timeout_ms=None):
    """Send (key, value, headers) triples and wait until every one is acknowledged."""
    timeout_ms = settings.KAFKA_PUBLISH_TIMEOUT_MS * 5 if timeout_ms is None else timeout_ms
    deadline = time.monotonic() + timeout_ms / 1000
    producer = get_producer()
    try:
        futures = [producer.send(topic, value=v, key=k, headers=h) for k, v, h in messages]
        producer.flush(timeout=max(deadline - time.monotonic(), 0.05))
        return [f.get(timeout=max(deadline - time.monotonic(), 0.05)) for f in futures]
    except KafkaError as exc:
        _circuit.trip(topic)  # the consumer's retry then uses the producer the probe makes
        raise PublishError(f"Kafka did not acknowledge the messages: {exc.__class__.__name__}") from exc
