"""How fast the embedded broker reads a web-shaped backlog back, by the length of its topic's name:
the same backlog (several publishing processes, a few requests in flight each, so some producer
batches hold several requests) published to a fresh broker under a name of each length, and read
back from its start by a plain kafka-python consumer with the decider's fetch settings.

    .venv/bin/python -m bench.broker_topic_names [--count 100000] [--lengths 11,20,24,30] [--runs 2]

Per name: records/s, polls, and polls that returned fewer than 100 records (a fetch answered one
producer batch at a time). Apache Kafka has no such limit; the settings that run on the embedded
broker name their topics short (campaign_site/settings/embedded_broker.py).
"""
import argparse
import string
import uuid
from collections import Counter

from bench._harness import print_table, setup_django


def name_of_length(length: int) -> str:
    """A fresh topic name of exactly `length` characters (at least 8)."""
    return (f"n{length}." + string.ascii_lowercase * 10)[:length - 6] + uuid.uuid4().hex[:6]


def read_back(topic: str, count: int) -> tuple[float, list[int]]:
    """Seconds from the first to the last record, and the records of each poll that had some
    (lab.partition_experiment's plain consumer, with the decider's fetch settings)."""
    from lab.partition_experiment import probe_kafka_rate

    sizes = []
    seen, first, last = probe_kafka_rate(topic, count, timeout_s=300, poll_sizes=sizes)
    if seen < count:
        raise SystemExit(f"{topic}: read {seen} of {count} records within 300 s")
    return last - first, sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--lengths", default="11,20,24,30", help="topic name lengths (comma-separated, at least 8)")
    parser.add_argument("--runs", type=int, default=2, help="fresh brokers per length")
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    if min(lengths) < 8:
        parser.error("--lengths: names are at least 8 characters")

    from django.conf import settings

    from lab.embedded import EmbeddedBroker
    from lab.publishing import publish_like_web

    rows = []
    for run in range(1, args.runs + 1):
        for length in lengths:
            with EmbeddedBroker() as broker:
                settings.KAFKA_BOOTSTRAP_SERVERS = [broker.bootstrap_servers]
                topic = name_of_length(length)
                publish_like_web(topic=topic, campaign_ids=[1], users=args.count, count=args.count, key_by="campaign",
                                 processes=4, in_flight=4)
                seconds, sizes = read_back(topic, args.count)
            small = sum(1 for size in sizes if size < 100)
            rate = args.count / seconds if seconds > 0 else float("nan")  # nan: all in one poll
            rows.append([length, run, topic, f"{rate:,.0f}", len(sizes), small,
                         ", ".join(f"{size}x{n}" for size, n in Counter(sizes).most_common(3))])
            print(f"  done: {rows[-1]}", flush=True)
    print()
    rows.sort(key=lambda row: (row[0], row[1]))
    print_table(["name length", "run", "topic", "records/s", "polls", "polls < 100 records", "commonest poll sizes"], rows)


if __name__ == "__main__":
    setup_django()
    main()
