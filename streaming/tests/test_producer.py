"""publish_async, the event-loop publish of the participation fast path, against real brokers."""
import asyncio
import time

import pytest

from lab.embedded import free_port
from streaming.producer import PublishError, publish_async, reset_producer
from testsupport.kafka import read_topic


@pytest.fixture
def fresh_producer():
    reset_producer()
    yield
    reset_producer()


def test_returns_once_the_broker_has_acknowledged(kafka_topics, settings, fresh_producer):
    async def publish_three():
        return await asyncio.gather(*(publish_async(settings.FIRSTCOME_TOPIC, f"m{i}".encode(), key=b"k")
                                      for i in range(3)))

    acknowledged = asyncio.run(publish_three())
    assert sorted(meta.offset for meta in acknowledged) == [0, 1, 2]
    assert sorted(m.value for m in read_topic(settings.FIRSTCOME_TOPIC, expected=3)) == [b"m0", b"m1", b"m2"]


def test_a_down_broker_fails_within_the_budget_then_at_once(settings, fresh_producer):
    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{free_port()}"]  # nothing listens there
    settings.KAFKA_PUBLISH_TIMEOUT_MS = 800

    async def timed_publish():
        started = time.monotonic()
        with pytest.raises(PublishError):
            await publish_async("anything", b"x")
        return time.monotonic() - started

    first = asyncio.run(timed_publish())
    second = asyncio.run(timed_publish())  # the circuit is open: nothing is tried
    assert first < 2.5
    assert second < 0.05
