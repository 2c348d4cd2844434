"""How the embedded broker answers fetches as a partition fills with small record batches.

The web tier writes about one record batch per request (each worker sends a request as it comes,
linger 1 ms). This writes --steps record batches of --batch records each into --partitions
partitions of a fresh topic on a fresh embedded broker and, after each step, times a fetch of
2,000 records (the consumer's fetch settings) from the start and from near the end of partition 0.
Apache Kafka finds an offset through its index whatever the number of batches; the embedded
broker's in-memory store does not, which this shows.

    .venv/bin/python -m bench.broker_batches [--steps 20000,60000,120000] [--partitions 1] [--batch 1]
"""
import argparse
import time
import uuid

from bench._harness import print_table, setup_django

FETCHED = 2000
FETCH_TIMEOUT_S = 15


def timed_fetch(consumer, tp, start) -> tuple[int, float]:
    consumer.seek(tp, start)
    began, got = time.perf_counter(), 0
    while got < FETCHED and time.perf_counter() - began < FETCH_TIMEOUT_S:
        got += sum(map(len, consumer.poll(timeout_ms=200, max_records=FETCHED).values()))
    return got, time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="20000,60000,120000", help="record batches in partition 0 after each step")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1, help="records per batch")
    args = parser.parse_args()
    from django.conf import settings
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from lab.embedded import broker_from_environment
    from streaming.topics import ensure_topics
    from streaming.worker import FETCH_MIN_BYTES

    rows = []
    with broker_from_environment(preferred_port=None):
        servers = settings.KAFKA_BOOTSTRAP_SERVERS
        topic = f"bench.batches.{uuid.uuid4().hex[:6]}"
        ensure_topics({topic: args.partitions})
        producer = KafkaProducer(bootstrap_servers=servers, linger_ms=0, acks=1)
        batches = 0  # in partition 0; every partition gets as many
        for target in (int(s) for s in args.steps.split(",")):
            while batches < target:
                for partition in range(args.partitions):
                    for _ in range(args.batch):
                        producer.send(topic, b"x" * 120, partition=partition)
                    producer.flush()  # one produce request: one batch per partition
                batches += 1
            consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False,
                                     fetch_max_wait_ms=settings.KAFKA_FETCH_MAX_WAIT_MS, fetch_min_bytes=FETCH_MIN_BYTES)
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            end = consumer.end_offsets([tp])[tp]
            first, last = timed_fetch(consumer, tp, 0), timed_fetch(consumer, tp, max(end - FETCHED - 1000, 0))
            consumer.close()
            rows.append([f"{batches:,}", f"{end:,}", f"{first[0]:,} in {first[1]:.2f} s", f"{last[0]:,} in {last[1]:.2f} s"])
            print(rows[-1], flush=True)
        producer.close()
    print()
    print(f"{args.partitions} partition(s), {args.batch} record(s) per batch; a fetch of {FETCHED:,} records, "
          f"given up after {FETCH_TIMEOUT_S} s:")
    print_table(["batches in partition 0", "records", "fetched from the start", "fetched near the end"], rows)


if __name__ == "__main__":
    setup_django(migrate=False)
    main()
