"""Prometheus metrics of a consumer process, served on its own port (`--metrics-port`), with its
readiness at /readyz on the same port.

They live in prometheus_client's default registry next to its process_* metrics (CPU seconds,
memory, open files), so one scrape of a consumer tells both what it did and what it cost.
Only consumer processes import this module: the web processes' /metrics stays django-prometheus's.
"""
import json
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_wsgi_app

LABELS = ("consumer", "topic")
BATCH_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000)
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

MESSAGES_CONSUMED = Counter(
    "firstcome_consumer_messages_consumed_total",
    "Records taken from Kafka and committed: processed or dead-lettered.", LABELS)
DEAD_LETTERED = Counter(
    "firstcome_consumer_dead_lettered_total",
    "Records sent to the dead-letter topic (malformed, unknown campaign, isolated).", LABELS)
DEAD_LETTERED_BY_KIND = Counter(
    "firstcome_consumer_dead_lettered_by_kind_total",
    "Records sent to the dead-letter topic, by why: malformed (decode refused it), rejected (the "
    "consumer's rule, e.g. unknown campaign), isolated (processing it failed: the batch was split "
    "down to it).", (*LABELS, "kind"))
COMMIT_REFUSED = Counter(
    "firstcome_consumer_commit_refused_messages_total",
    "Records processed whose offset commit the group refused after a rebalance: not counted as "
    "consumed here; they are redelivered and counted by whoever processes them next.", LABELS)
BATCH_SPLITS = Counter(
    "firstcome_consumer_batch_splits_total",
    "Times a set of records failed together and was split in two to isolate the failing record.",
    LABELS)
DATABASE_RETRIES = Counter(
    "firstcome_consumer_database_retries_total",
    "Times a batch's transaction failed on the database itself (streaming.database_errors) and "
    "the batch was retried whole after a backoff: none of its records is dead-lettered for it.", LABELS)
PUBLISH_FAILING_SECONDS = Gauge(
    "firstcome_consumer_publish_failing_seconds",
    "How long the consumer has been retrying a publish the broker does not acknowledge (its decision "
    "events or dead letters): nothing after that batch is decided meanwhile. 0 when publishing works.",
    LABELS)
# A publish failing this long makes the consumer not ready (/readyz 503); the alert waits a little more.
NOT_READY_AFTER_S = 15
STALLED_PARTITIONS = Gauge(
    "firstcome_consumer_stalled_partitions",
    "Assigned partitions stopped at a hole in their offsets that has not filled for the gap "
    "patience; nothing past the hole is committed until it fills.", LABELS)
BATCH_SIZE = Histogram(
    "firstcome_consumer_batch_size", "Records per polled batch.", LABELS, buckets=BATCH_SIZE_BUCKETS)
POLL_RECORDS = Histogram(
    "firstcome_consumer_poll_records",
    "Records per poll that returned any (a batch may gather several polls while the previous one "
    "holds the database).", LABELS, buckets=BATCH_SIZE_BUCKETS)
BATCH_SECONDS = Histogram(
    "firstcome_consumer_batch_seconds",
    "One batch from poll result to committed offsets: decode, DB transaction, dead-letter and "
    "follow-up messages, offset commit.", LABELS, buckets=SECONDS_BUCKETS)
DB_COMMIT_SECONDS = Histogram(
    "firstcome_consumer_db_commit_seconds",
    "The batch's database work up to its commit (retries after a lost connection included).",
    LABELS, buckets=SECONDS_BUCKETS)
LAG = Gauge(
    "firstcome_consumer_lag_messages",
    "Partition high watermark minus the offset just committed, as this consumer saw it at its "
    "last batch of that partition.", (*LABELS, "partition"))


class ConsumerMetrics:
    """What one worker reports after each committed batch (BatchConsumerWorker.batch_handled)."""

    def __init__(self, consumer_name, topic, worker=None):
        labels = (consumer_name, topic)
        self.labels = labels
        self.consumed = MESSAGES_CONSUMED.labels(*labels)
        self.dead_lettered = DEAD_LETTERED.labels(*labels)
        self.batch_size = BATCH_SIZE.labels(*labels)
        self.poll_records = POLL_RECORDS.labels(*labels)
        self.batch_seconds = BATCH_SECONDS.labels(*labels)
        self.db_commit_seconds = DB_COMMIT_SECONDS.labels(*labels)
        self.splits = BATCH_SPLITS.labels(*labels)
        self.database_retries = DATABASE_RETRIES.labels(*labels)
        self.commit_refused = COMMIT_REFUSED.labels(*labels)
        self.stalled_partitions = STALLED_PARTITIONS.labels(*labels)
        self.stalled_partitions.set(0)
        if worker is not None:
            PUBLISH_FAILING_SECONDS.labels(*labels).set_function(lambda: publish_failing_s(worker))

    def batch_handled(self, kafka_consumer, polled, *, dead_lettered, seconds, db_seconds, committed=True):
        """dead_lettered: {kind: records} of the batch. committed: False if the group refused its
        offset commit (it is redelivered), so that summed over a group a record counts once."""
        size = sum(len(records) for records in polled.values())
        (self.consumed if committed else self.commit_refused).inc(size)
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)
        if db_seconds is not None:
            self.db_commit_seconds.observe(db_seconds)
        for kind, count in dead_lettered.items():
            self.dead_lettered.inc(count)
            DEAD_LETTERED_BY_KIND.labels(*self.labels, kind).inc(count)
        for tp, records in polled.items():
            highwater = _highwater(kafka_consumer, tp)
            if highwater is not None:
                LAG.labels(*self.labels, str(tp.partition)).set(max(highwater - records[-1].offset - 1, 0))

    def polled(self, records):
        self.poll_records.observe(records)

    def batch_split(self):
        self.splits.inc()

    def database_retry(self):
        self.database_retries.inc()

    def stalled(self, partitions):
        self.stalled_partitions.set(partitions)


def _highwater(kafka_consumer, tp):
    try:
        return kafka_consumer.highwater(tp)
    except Exception:  # no longer assigned after a rebalance: no reading this time
        return None


def publish_failing_s(worker) -> float:
    since = worker.publish_failing_since
    return 0.0 if since is None else time.monotonic() - since


def readiness(worker, durability=None) -> dict:
    """{"ready": bool, "failing": [...], ...}: not ready while a publish has failed for
    NOT_READY_AFTER_S (an unwritable decisions or dead-letter topic), or while a topic it writes
    is less durable than configured (`durability`: a streaming.topics.DurabilityCheck)."""
    failing_s = publish_failing_s(worker)
    failing = ["publish"] if failing_s >= NOT_READY_AFTER_S else []
    answer = {"publish_failing_s": round(failing_s, 1)}
    if durability is not None:
        try:
            answer["topics"] = durability.shortfalls()
        except Exception as exc:  # the broker's own failure shows in the publish and the lag
            answer["topics"] = [f"not readable: {type(exc).__name__}"]
        if answer["topics"]:
            failing.append("topics")
    return {"ready": not failing, "failing": failing, **answer}


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # scrapes every 15 s: not worth a log line each
        pass


def serve(port, addr="0.0.0.0", worker=None, durability=None):
    """Serve the metrics at http://addr:port/metrics, and the worker's readiness at /readyz, from a
    daemon thread; OSError if the port is taken."""
    metrics_app = make_wsgi_app(REGISTRY)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/readyz" and worker is not None:
            answer = readiness(worker, durability)
            start_response("200 OK" if answer["ready"] else "503 Service Unavailable",
                           [("Content-Type", "application/json")])
            return [json.dumps(answer).encode()]
        return metrics_app(environ, start_response)

    server = make_server(addr, port, app, _ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
