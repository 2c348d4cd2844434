"""The consumer loop every Kafka worker of this project shares.

    poll → decode → process the batch (DB commit) → dead-letter / follow-up messages (acked)
         → commit exactly the offsets just processed

Offsets are committed only after everything the batch produced is durable, so a crash at any
point redelivers the batch and never skips it; processing must therefore be idempotent, which
each consumer guarantees through unique keys. Subclasses only say what a record means
(`decode`) and what a batch does (`process_batch`, `after_commit`).

Two stages, one batch apart: while a second thread runs batch N+1's database transaction, the
main thread sends batch N's dead letters and follow-ups, commits N's offsets, then polls and
decodes batch N+2 (the database work waits with the GIL released, so the stages overlap).
Batches reach the database one at a time and in order, follow-ups are sent in batch order, and
the main thread alone touches the KafkaConsumer; a stop finishes the batch in flight. A batch in
flight during a rebalance is redelivered to the partitions' new owner when its commit is refused,
as any batch caught by a rebalance is.
"""
import heapq
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, transaction
from kafka import ConsumerRebalanceListener, KafkaConsumer
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from streaming.producer import PublishError, publish_many

log = logging.getLogger(__name__)

# How long poll() waits while a batch is in flight, so that its offsets are committed soon after
# it is done even when no new messages come.
IN_FLIGHT_POLL_MS = 10


class PoisonMessage(Exception):
    """A record that can never be processed; it goes to the dead-letter topic with this reason."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class StoppedBeforeCommit(Exception):
    """Stop was requested while the batch could not be committed; it will be redelivered."""


@dataclass
class BatchResult:
    # index into the batch's items → reason; these go to the dead-letter topic.
    rejected: dict = field(default_factory=dict)
    # whatever after_commit needs (e.g. the outcomes to publish).
    value: Any = None


@dataclass
class Batch:
    """One poll's records on their way through the two stages."""
    polled: dict
    started: float
    records: list = field(default_factory=list)  # decodable records, in Kafka order
    items: list = field(default_factory=list)  # their decoded items, same order
    poison: list = field(default_factory=list)  # (record, reason) for the dead-letter topic
    db_seconds: float = None


def in_kafka_order(polled):
    """Flatten poll() output: each partition's offset order is kept, partitions are interleaved
    by broker timestamp so that, across partitions, earlier requests come first."""
    if len(polled) == 1:
        return next(iter(polled.values()))
    return list(heapq.merge(*polled.values(), key=lambda record: record.timestamp))


class _AssignmentListener(ConsumerRebalanceListener):
    def __init__(self, worker):
        self.worker = worker

    def on_partitions_revoked(self, revoked):
        # Nothing is committed here: kafka-python may call this from its IO thread, where a
        # blocking commit raises. A batch in flight finishes; if its partitions went elsewhere its
        # offset commit is refused and the new owner redelivers it, which the idempotent
        # decisions answer with the outcomes already recorded.
        if revoked:
            log.info("%s: partitions %s revoked", self.worker.name, sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned):
        self.worker.on_assignment(sorted(tp.partition for tp in assigned))


class BatchConsumerWorker:
    name = "consumer"
    # Wrap process_batch in one DB transaction. A subclass that commits per message (the
    # original design's baseline) turns this off and opens its own transactions.
    atomic_batch = True

    def __init__(self, *, topic, group_id, dead_letter_topic=None, bootstrap_servers=None,
                 max_poll_records=None, poll_timeout_ms=200, consumer_config=None,
                 retry_backoff_s=(0.1, 5.0), stop_grace_s=20, assignment_file=None):
        self.topic = topic
        self.group_id = group_id
        self.dead_letter_topic = dead_letter_topic
        self.bootstrap_servers = bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS
        self.max_poll_records = max_poll_records or settings.KAFKA_MAX_POLL_RECORDS
        self.poll_timeout_ms = poll_timeout_ms
        self.consumer_config = consumer_config or {}
        self.retry_backoff_s = retry_backoff_s
        self.stop_grace_s = stop_grace_s
        # Where the current partition assignment is written (JSON list) each time it changes, so
        # a supervisor or an experiment can wait for a stable group instead of guessing.
        self.assignment_file = assignment_file
        self._stop = threading.Event()
        self.consumer = None
        self.messages_processed = 0
        self.messages_dead_lettered = 0
        self.batches_committed = 0
        self.metrics = None  # a streaming.metrics.ConsumerMetrics when the process exports them
        # Offset each assigned partition must continue from (see without_gaps), and since when a
        # gap has been waited for.
        self._next_offsets = {}
        self._gaps = {}
        self.gap_patience_s = 30
        # The batch whose database work runs on the second thread: (Batch, Future), or None.
        self._in_flight = None
        self._db_thread = None

    # --- what a subclass says ------------------------------------------------------------
    def decode(self, record):
        """Record → item. Raise PoisonMessage for a record that can never be processed."""
        return record

    def process_batch(self, items):
        """Do the batch's database work; return a BatchResult (or None)."""
        raise NotImplementedError

    def after_commit(self, items, result):
        """Runs after the DB commit and before the offset commit (e.g. publish follow-ups);
        must not return before what it sends is acknowledged."""

    # --- the loop ------------------------------------------------------------------------
    def request_stop(self):
        self._stop.set()

    @property
    def stopping(self):
        return self._stop.is_set()

    def make_consumer(self):
        config = dict(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self.name}-{os.getpid()}",
            enable_auto_commit=False,
            # A group that has never committed starts at the beginning: requests published
            # before the first consumer joined are decided, not skipped.
            auto_offset_reset="earliest",
            session_timeout_ms=settings.KAFKA_SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=settings.KAFKA_HEARTBEAT_INTERVAL_MS,
            fetch_max_wait_ms=settings.KAFKA_FETCH_MAX_WAIT_MS,
            max_poll_records=self.max_poll_records,
        )
        config.update(self.consumer_config)
        consumer = KafkaConsumer(**config)
        consumer.subscribe([self.topic], listener=_AssignmentListener(self))
        return consumer

    def on_assignment(self, partitions):
        log.info("%s: assigned partitions %s of %s", self.name, partitions, self.topic)
        self._next_offsets.clear()  # another member may have moved them on meanwhile
        if self.assignment_file:
            tmp = f"{self.assignment_file}.tmp"
            with open(tmp, "w") as out:
                json.dump(partitions, out)
            os.replace(tmp, self.assignment_file)

    def run(self):
        log.info("%s starting: topic=%s group=%s", self.name, self.topic, self.group_id)
        self.consumer = self.make_consumer()
        # One thread, so batches reach the database strictly one after the other; it keeps its
        # own database connection for the life of the worker.
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix=f"{self.name}-db")
        try:
            while not self.stopping:
                polled = self.poll(IN_FLIGHT_POLL_MS if self._in_flight else self.poll_timeout_ms)
                batch = self.prepare(polled) if polled else None
                previous = None
                if self._in_flight and (batch or self._in_flight[1].done()):
                    previous = self.take_in_flight()
                if batch:  # its transaction runs while the previous batch's follow-ups are sent
                    self._in_flight = (batch, self._db_thread.submit(self.process_prepared, batch))
                if previous:
                    self.finish(*previous)
            self.finish_in_flight()
        except StoppedBeforeCommit:
            log.warning("%s stopped with an uncommitted batch; it will be redelivered", self.name)
            return 1
        finally:
            self._in_flight = None
            self._db_thread.submit(connections.close_all)
            self._db_thread.shutdown(wait=True)
            self.consumer.close(autocommit=False)
            log.info("%s stopped: %d messages processed, %d dead-lettered, %d batches",
                     self.name, self.messages_processed, self.messages_dead_lettered,
                     self.batches_committed)
        return 0

    def poll(self, timeout_ms):
        """consumer.poll(), waiting out a broker outage with backoff instead of exiting: nothing
        is lost meanwhile, since offsets are only committed after a batch is done."""
        delay, max_delay = self.retry_backoff_s
        while True:
            try:
                return self.consumer.poll(timeout_ms=timeout_ms, max_records=self.max_poll_records)
            except KafkaError as exc:
                if self.stopping:
                    return {}
                log.warning("%s: broker unreachable, polling again in %.1fs: %s", self.name, delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, max_delay)

    def without_gaps(self, polled):
        """The polled records up to the first hole in a partition's offsets; the consumer is sent
        back to the hole, so the next poll reads it again.

        Our topics are neither compacted nor transactional, so a partition's offsets are
        contiguous. The embedded broker, with several producers writing to one partition, can
        hand a tailing consumer a batch before an earlier one is readable (measured with a plain
        kafka-python consumer: 8 records jumped over, 4 times in 280,000 requests from two
        producer processes); kafka-python takes the later batch and moves on, and committing it
        would skip requests that got a 202. A hole that stays for
        gap_patience_s is given up on, loudly, rather than stalling the partition forever.
        """
        kept = {}
        for tp, records in polled.items():
            expected = self._next_offsets.get(tp, records[0].offset)
            if records[0].offset != expected or records[-1].offset - expected != len(records) - 1:
                records = self._up_to_gap(tp, records, expected)
            if records:
                kept[tp] = records
                self._next_offsets[tp] = records[-1].offset + 1
        return kept

    def _up_to_gap(self, tp, records, expected):
        for index, record in enumerate(records):
            if record.offset > expected:
                now = time.monotonic()
                waiting = now - self._gaps.setdefault((tp, expected), now)
                if waiting < self.gap_patience_s:
                    log.warning("%s: %s[%d] jumped from offset %d to %d; reading again from %d",
                                self.name, tp.topic, tp.partition, expected, record.offset, expected)
                    self.consumer.seek(tp, expected)
                    return records[:index]
                log.error("%s: offsets %d-%d of %s[%d] not readable after %.0fs; going on without them",
                          self.name, expected, record.offset - 1, tp.topic, tp.partition, waiting)
            self._gaps.pop((tp, expected), None)
            expected = record.offset + 1
        return records

    def prepare(self, polled):
        """Main thread: drop what follows an offset hole, decode, set poison aside."""
        polled = self.without_gaps(polled)
        if not polled:
            return None
        batch = Batch(polled=polled, started=time.perf_counter())
        for record in in_kafka_order(polled):
            try:
                batch.items.append(self.decode(record))
                batch.records.append(record)
            except PoisonMessage as exc:
                batch.poison.append((record, exc.reason))
        return batch

    def process_prepared(self, batch):
        """Database thread: the batch's transaction, retried until it commits."""
        items = batch.items
        if not items:
            return BatchResult()
        db_started = time.perf_counter()
        result = self.process_with_retry(items) or BatchResult()
        batch.db_seconds = time.perf_counter() - db_started
        return result

    def finish(self, batch, result):
        """Main thread, once the batch's transaction has committed: dead letters and follow-ups,
        acknowledged, then the batch's offsets; count it."""
        batch.poison.extend((batch.records[index], reason) for index, reason in result.rejected.items())
        self.with_kafka_retry(self.dead_letter, batch.poison)
        self.with_kafka_retry(self.after_commit, batch.items, result.value)
        self.commit_offsets(batch.polled)
        self.messages_processed += len(batch.items) - len(result.rejected)
        self.messages_dead_lettered += len(batch.poison)
        self.batches_committed += 1
        self.batch_handled(batch.polled, result, dead_lettered=len(batch.poison),
                           seconds=time.perf_counter() - batch.started, db_seconds=batch.db_seconds)

    def take_in_flight(self):
        """Wait until the batch on the database thread has committed; returns (batch, result).
        Its exceptions (StoppedBeforeCommit, a bug) are raised here, in the main thread."""
        batch, future = self._in_flight
        self._in_flight = None
        return batch, future.result()

    def finish_in_flight(self):
        if self._in_flight is not None:
            self.finish(*self.take_in_flight())

    def batch_handled(self, polled, result, *, dead_lettered, seconds, db_seconds):
        """Runs once per batch, after its offsets are committed: reports it to the metrics."""
        if self.metrics:
            self.metrics.batch_handled(self.consumer, polled, dead_lettered=dead_lettered,
                                       seconds=seconds, db_seconds=db_seconds)

    def process_with_retry(self, items):
        """Run the batch until its DB transaction commits. A lost connection or a deadlock is
        retried with backoff on a fresh connection; the batch is never skipped."""
        delay, max_delay = self.retry_backoff_s
        give_up_at = None
        while True:
            try:
                if self.atomic_batch:
                    with transaction.atomic():
                        return self.process_batch(items)
                return self.process_batch(items)
            except (OperationalError, InterfaceError) as exc:
                log.warning("%s: database error, retrying the batch of %d in %.1fs: %s",
                            self.name, len(items), delay, exc)
                for conn in connections.all():
                    conn.close()  # reconnect on the next query
                give_up_at = self._check_stop_deadline(give_up_at)
                time.sleep(delay)
                delay = min(delay * 2, max_delay)

    def with_kafka_retry(self, action, *args):
        delay, max_delay = self.retry_backoff_s
        give_up_at = None
        while True:
            try:
                return action(*args)
            except PublishError as exc:
                log.warning("%s: broker did not acknowledge, retrying in %.1fs: %s",
                            self.name, delay, exc)
                give_up_at = self._check_stop_deadline(give_up_at)
                time.sleep(delay)
                delay = min(delay * 2, max_delay)

    def _check_stop_deadline(self, give_up_at):
        if not self.stopping:
            return None
        give_up_at = give_up_at or time.monotonic() + self.stop_grace_s
        if time.monotonic() > give_up_at:
            raise StoppedBeforeCommit()
        return give_up_at

    def dead_letter(self, poison):
        if not poison:
            return
        if not self.dead_letter_topic:
            raise RuntimeError(f"{self.name} has poison messages and no dead-letter topic")
        messages = []
        for record, reason in poison:
            log.warning("%s: dead-lettering %s[%d]@%d: %s", self.name, record.topic,
                        record.partition, record.offset, reason)
            headers = [
                ("reason", reason.encode()),
                ("source_topic", record.topic.encode()),
                ("source_partition", str(record.partition).encode()),
                ("source_offset", str(record.offset).encode()),
            ]
            messages.append((record.key, record.value, headers))
        publish_many(self.dead_letter_topic, messages)

    def commit_offsets(self, polled):
        offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1)
                   for tp, records in polled.items()}
        try:
            self.consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced: the new owner redelivers these records and the idempotent
            # processing gives them the outcomes already committed.
            log.warning("%s: offset commit refused after a rebalance; batch will be redelivered",
                        self.name)
        except KafkaError as exc:
            log.warning("%s: offset commit failed (%s); batch will be redelivered", self.name, exc)
