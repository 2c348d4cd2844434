"""Topic defaults for the settings that run on the embedded broker by default (local, test).

The embedded broker answers fetches on a topic named longer than about 20 characters a producer
batch at a time once it meets a batch of several requests, 5-10x more polls (docs/benchmarks.md,
"Topic names"). Apache Kafka has no such limit, so production keeps base's names.
"""
from .base import env

FIRSTCOME_TOPIC = env.str("FIRSTCOME_TOPIC", "fc.requests")
FIRSTCOME_DLQ_TOPIC = env.str("FIRSTCOME_DLQ_TOPIC", f"{FIRSTCOME_TOPIC}.dlq")
