"""Reading a dead-letter topic back, and putting chosen records back on the topic they came from.

A dead letter carries its record's key and value unchanged and, as headers, why it was set aside
and where it came from (streaming.worker.BatchConsumerWorker.dead_letter). Replaying one publishes
that key and value to its source topic again, so the request is decided with its original request
id; the consumer's decision is idempotent on that id (docs/operations.md, "Dead letters").
"""
import time
from dataclasses import dataclass

from django.conf import settings
from kafka import KafkaConsumer, TopicPartition

from streaming.producer import publish_many

REDRIVEN_FROM = "redriven_from"


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict  # name -> str

    @property
    def coordinates(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def reason(self) -> str:
        return self.headers.get("reason", "")

    @property
    def source_topic(self) -> str | None:
        return self.headers.get("source_topic")

    @property
    def request_id(self) -> str | None:
        return self.headers.get("request_id")

    @property
    def kind(self) -> str:
        return self.headers.get("kind", "")


class NotReadToTheEnd(Exception):
    """The dead-letter topic could not be read to its end within the time allowed."""


def dead_letters(topic: str, *, bootstrap_servers=None, timeout_s: float = 60.0) -> list[DeadLetter]:
    """Every record of the dead-letter topic, in partition and offset order; NotReadToTheEnd if a
    partition was not read to its end offset within timeout_s (never a part taken for the whole).
    Reads without a consumer group: nothing is committed, the consumers' offsets are untouched."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS,
                             enable_auto_commit=False, fetch_max_wait_ms=50, client_id="firstcome-redrive")
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        found = []
        deadline = time.monotonic() + timeout_s
        while not all(consumer.position(tp) >= ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                behind = {tp.partition: ends[tp] - consumer.position(tp) for tp in tps if consumer.position(tp) < ends[tp]}
                raise NotReadToTheEnd(f"{topic} not read to its end within {timeout_s:g} s (records left by "
                                      f"partition: {behind})")
            for records in consumer.poll(timeout_ms=200, max_records=5000).values():
                found.extend(DeadLetter(r.partition, r.offset, r.key, r.value,
                                        {name: value.decode(errors="replace") for name, value in r.headers or ()})
                             for r in records)
        return sorted(found, key=lambda d: (d.partition, d.offset))
    finally:
        consumer.close()


def replay(letters: list[DeadLetter], *, dead_letter_topic: str) -> int:
    """Publish each dead letter's key and value to its source topic again (acknowledged, like any
    publish), marked with where it was redriven from. Returns how many were published."""
    messages = {}
    for letter in letters:
        if letter.source_topic is None:
            raise ValueError(f"dead letter {letter.coordinates} names no source topic")
        headers = [(REDRIVEN_FROM, f"{dead_letter_topic}:{letter.coordinates}".encode())]
        if letter.request_id:
            headers.append(("request_id", letter.request_id.encode()))
        messages.setdefault(letter.source_topic, []).append((letter.key, letter.value, headers))
    for source, batch in messages.items():
        publish_many(source, batch)
    return sum(map(len, messages.values()))
