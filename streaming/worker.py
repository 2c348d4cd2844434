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

A batch whose transaction fails on something other than the database itself (a record the
database refuses, a value the code cannot handle) is split in two and each half decided in its
own transaction, first half first, down to the record(s) that cause the failure: those go to the
dead-letter topic with the error as their reason, the rest are decided as if one at a time in
Kafka order, and the stream goes on (`process_isolating`). A failure of the database itself
(streaming.database_errors: anything but an error about a record's values) waits and retries the
batch whole, however long it lasts: it is never dead-lettered.
"""
import heapq
import json
import logging
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connections, transaction
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from streaming import database_errors
from streaming.errors import PoisonMessage
from streaming.producer import PublishError, publish_many

log = logging.getLogger(__name__)

# How long poll() waits while a batch is in flight, so that its offsets are committed soon after
# it is done even when no new messages come.
IN_FLIGHT_POLL_MS = 10
# What a fetch asks the broker to gather before answering (or fetch_max_wait_ms passing). With
# kafka-python's default of 1 byte the embedded broker answers a backlog of small producer batches
# (the web tier's shape: many processes, linger 1 ms) a few records at a time, or not at all for
# seconds, at a high CPU cost; asking for a full fetch lets it answer thousands at once.
# Apache Kafka answers as soon as this much is there, so it only ever delays an idle stream by
# fetch_max_wait_ms (docs/benchmarks.md, "Consumer on production-shaped topics").
FETCH_MIN_BYTES = 1024 * 1024
# A hole in a partition's offsets older than this (by the broker timestamp of the first record
# after it) is a stall: reported as one (error log, metric, dashboard), still never skipped.
GAP_PATIENCE_S = 30
MAX_REASON_LENGTH = 500
# Kinds of dead letter, as counted in the metrics: set aside by decode, rejected by the
# consumer's own rule (unknown campaign), isolated because processing it failed.
MALFORMED, REJECTED, ISOLATED = "malformed", "rejected", "isolated"


def failure_reason(exc) -> str:
    return f"processing failed: {type(exc).__name__}: {exc}"[:MAX_REASON_LENGTH]


class StoppedBeforeCommit(Exception):
    """Stop was requested while the batch could not be committed; it will be redelivered."""


@dataclass
class BatchResult:
    # index into the batch's items → reason; these go to the dead-letter topic.
    rejected: dict = field(default_factory=dict)
    # the indices among them that were isolated because processing them failed.
    isolated: frozenset = frozenset()
    # whatever after_commit needs (e.g. the outcomes to publish).
    value: Any = None


@dataclass
class Batch:
    """One poll's records on their way through the two stages."""
    polled: dict
    started: float
    records: list = field(default_factory=list)  # decodable records, in Kafka order
    items: list = field(default_factory=list)  # their decoded items, same order
    # (record, reason, kind, request id or None) for the dead-letter topic
    poison: list = field(default_factory=list)
    db_seconds: float = None


NO_TIMESTAMP = -1  # Kafka's timestamp of a record written without one


def broker_time_ms(record) -> int | None:
    """The record's broker timestamp, or None when it carries none (Kafka's -1; kafka-python gives
    None for the old message format)."""
    return None if record.timestamp in (None, NO_TIMESTAMP) else record.timestamp


def written_at_s(record) -> float:
    """When the record was written, by its broker timestamp, in seconds; 0 (long ago) for one that
    carries none or a negative one."""
    return max(broker_time_ms(record) or 0, 0) / 1000


def in_kafka_order(polled):
    """Flatten poll() output: each partition's offset order is kept, partitions are interleaved
    by broker timestamp so that, across partitions, earlier requests come first."""
    if len(polled) == 1:
        return next(iter(polled.values()))
    return list(heapq.merge(*polled.values(), key=written_at_s))


def offset_holes(topic, committed, *, bootstrap_servers, timeout_ms) -> dict:
    """The dashboard's view of without_gaps' rule: {partition: hole} for the partitions whose
    committed offset is not readable, i.e. the first record a fetch from it returns lies past it.
    hole = {"offset", "next_offset", "age_s" (since the record after it was written), "stalled"
    (older than GAP_PATIENCE_S)}. `committed`: {partition: offset} of the partitions to look at."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False,
                             request_timeout_ms=max(timeout_ms, 1000), bootstrap_timeout_ms=timeout_ms,
                             fetch_max_wait_ms=10, fetch_min_bytes=FETCH_MIN_BYTES)
    try:
        starts = {TopicPartition(topic, p): offset for p, offset in committed.items()}
        consumer.assign(list(starts))
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        first = {}
        deadline = time.monotonic() + timeout_ms / 1000
        while len(first) < len(starts) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=20, max_records=len(starts)).items():
                first.setdefault(tp, records[0])
    finally:
        consumer.close(autocommit=False)
    holes = {}
    for tp, record in first.items():
        if record.offset > starts[tp]:
            age = max(time.time() - written_at_s(record), 0)
            holes[tp.partition] = {"offset": starts[tp], "next_offset": record.offset,
                                   "age_s": round(age, 1), "stalled": age >= GAP_PATIENCE_S}
    return holes


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
        # Offset each assigned partition must continue from (see without_gaps), and the
        # partitions stalled at a hole: {TopicPartition: offset of the hole}.
        self._next_offsets = {}
        self.stalled = {}
        self._stall_logged = {}
        self.gap_patience_s = GAP_PATIENCE_S
        # The batch whose database work runs on the second thread: (Batch, Future), or None.
        self._in_flight = None
        self._db_thread = None
        self.publish_failing_since = None  # monotonic time a publish began failing (with_kafka_retry)

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

    def request_id(self, item):
        """The request id a decoded item carries, for its dead letter's headers (None: it has
        none). A record that does not decode has none either."""
        return getattr(item, "request_id", None)

    def merge_values(self, values):
        """The value of a batch that was split to isolate a failing record, from its parts'
        values in order (lists by default: concatenated)."""
        return [v for value in values if value for v in value]

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
            fetch_min_bytes=FETCH_MIN_BYTES,
            max_poll_records=self.max_poll_records,
        )
        config.update(self.consumer_config)
        consumer = KafkaConsumer(**config)
        consumer.subscribe([self.topic], listener=_AssignmentListener(self))
        return consumer

    def on_assignment(self, partitions):
        log.info("%s: assigned partitions %s of %s", self.name, partitions, self.topic)
        self._next_offsets.clear()  # another member may have moved them on meanwhile
        self.stalled.clear()
        self.stalls_changed()
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
                polled = self.gather()
                batch = self.prepare(polled) if polled else None
                if polled is None and self.stalled:
                    self._stop.wait(self.poll_timeout_ms / 1000)  # not a busy loop on the hole
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

    def poll(self, timeout_ms, max_records=None):
        """consumer.poll(), waiting out a broker outage with backoff instead of exiting: nothing
        is lost meanwhile, since offsets are only committed after a batch is done."""
        delay, max_delay = self.retry_backoff_s
        while True:
            try:
                polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=max_records or self.max_poll_records)
            except KafkaError as exc:
                if self.stopping:
                    return {}
                log.warning("%s: broker unreachable, polling again in %.1fs: %s", self.name, delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, max_delay)
                continue
            if polled and self.metrics:
                self.metrics.polled(sum(map(len, polled.values())))
            return polled

    def gather(self):
        """Main thread: the next batch's polled records, without gaps. While the batch in flight
        still holds the database, polls go on adding to this one up to max_poll_records: the
        database is busy anyway, and one transaction of many records costs less than several
        small ones (kafka-python hands a fetch out in max_poll_records pieces, its remainder alone).
        Records keep their partition's offset order; without_gaps checks each poll. None: the poll
        returned records, all of them behind a hole."""
        raw = self.poll(IN_FLIGHT_POLL_MS if self._in_flight else self.poll_timeout_ms)
        polled = self.without_gaps(raw)
        if raw and not polled:
            return None
        count = sum(map(len, polled.values()))
        while (polled and count < self.max_poll_records and self._in_flight
               and not self._in_flight[1].done() and not self.stopping):
            more = self.without_gaps(self.poll(IN_FLIGHT_POLL_MS, max_records=self.max_poll_records - count))
            for tp, records in more.items():
                polled[tp] = polled.get(tp, []) + records
                count += len(records)
        return polled

    def without_gaps(self, polled):
        """The polled records up to the first hole in a partition's offsets; the consumer is sent
        back to the hole, so the next poll reads it again. Never committed over: a hole that does
        not fill stalls its partition, loudly (error log, metric, dashboard), until it does.

        Our topics are neither compacted nor written in transactions (the producer is idempotent,
        no transactional id), so a partition's offsets are contiguous and a jump is a record not
        yet readable. The embedded broker, with several producers writing to one partition, can
        hand a tailing consumer a batch before an earlier one is readable (measured with a plain
        kafka-python consumer: 8 records jumped over, 4 times in 280,000 requests from two
        producer processes); kafka-python takes the later batch and moves on, and committing it
        would skip requests that got a 202. The first poll after an assignment is checked against
        the group's committed offset (the position the consumer starts from), not trusted.
        """
        kept = {}
        for tp, records in polled.items():
            expected = self._next_offsets.get(tp)
            if expected is None:
                expected = self._start_offset(tp)
                if expected is None:  # the broker did not say: read the same records again
                    self.consumer.seek(tp, records[0].offset)
                    continue
                self._next_offsets[tp] = expected
            if records[0].offset != expected or records[-1].offset - expected != len(records) - 1:
                records = self._up_to_gap(tp, records, expected)
            elif tp in self.stalled:
                self._stall_over(tp)
            if records:
                kept[tp] = records
                self._next_offsets[tp] = records[-1].offset + 1
        return kept

    def _start_offset(self, tp):
        """Where a newly assigned partition starts: the group's committed offset, or the log's
        first offset when the group has committed none (auto_offset_reset=earliest)."""
        try:
            committed = self.consumer.committed(tp, timeout_ms=5000)
            if committed is None:
                committed = self.consumer.beginning_offsets([tp], timeout_ms=5000)[tp]
        except KafkaError as exc:
            log.warning("%s: start offset of %s[%d] unknown (%s); reading again", self.name,
                        tp.topic, tp.partition, exc)
            return None
        return committed

    def _up_to_gap(self, tp, records, expected):
        for index, record in enumerate(records):
            if record.offset > expected:
                self._hole(tp, expected, record)
                self.consumer.seek(tp, expected)
                return records[:index]
            expected = max(expected, record.offset + 1)
        if tp in self.stalled:
            self._stall_over(tp)
        return records

    def _hole(self, tp, expected, record):
        age = time.time() - written_at_s(record)
        if age < self.gap_patience_s:
            log.warning("%s: %s[%d] jumped from offset %d to %d; reading again from %d",
                        self.name, tp.topic, tp.partition, expected, record.offset, expected)
            return
        now = time.monotonic()
        if self.stalled.get(tp) == expected and now - self._stall_logged.get(tp, 0) < self.gap_patience_s:
            return
        if self.stalled.get(tp) != expected:
            self.stalled[tp] = expected
            self.stalls_changed()
        self._stall_logged[tp] = now
        log.error("%s: %s[%d] STALLED: offsets %d-%d not readable for %.0fs; not committing past "
                  "them (they are requests that got a 202)", self.name, tp.topic, tp.partition,
                  expected, record.offset - 1, age)

    def _stall_over(self, tp):
        self._stall_logged.pop(tp, None)
        log.warning("%s: %s[%d] hole at offset %d filled; going on", self.name, tp.topic,
                    tp.partition, self.stalled.pop(tp))
        self.stalls_changed()

    def stalls_changed(self):
        if self.metrics:
            self.metrics.stalled(len(self.stalled))

    def prepare(self, polled):
        """Main thread: decode the gathered records (gaps already dropped), set poison aside."""
        if not polled:
            return None
        batch = Batch(polled=polled, started=time.perf_counter())
        for record in in_kafka_order(polled):
            try:
                batch.items.append(self.decode(record))
                batch.records.append(record)
            except PoisonMessage as exc:
                batch.poison.append((record, exc.reason, MALFORMED, None))
            except Exception as exc:  # a value decode did not foresee: poison, not a crash loop
                log.exception("%s: decoding %s[%d]@%d failed", self.name, record.topic,
                              record.partition, record.offset)
                batch.poison.append((record, failure_reason(exc), MALFORMED, None))
        return batch

    def process_prepared(self, batch):
        """Database thread: the batch's transaction, retried until it commits."""
        items = batch.items
        if not items:
            return BatchResult()
        db_started = time.perf_counter()
        result = self.process_isolating(items)
        batch.db_seconds = time.perf_counter() - db_started
        return result

    def process_isolating(self, items):
        """Database thread: the batch in one transaction; if that fails on anything but the
        database itself, each half in its own transaction, first half first (Kafka order: the
        outcomes are those of deciding the records one at a time), recursively, down to the
        single records that fail alone: those are rejected with the error as their reason."""
        parts, isolated = [], {}
        pending = [(0, len(items))]  # a stack: the earlier half is on top
        while pending:
            lo, hi = pending.pop()
            try:
                parts.append((lo, self.process_with_retry(items[lo:hi]) or BatchResult()))
            except StoppedBeforeCommit:
                raise
            except Exception as exc:
                if hi - lo == 1:
                    log.error("%s: isolated record %d of the batch: %s", self.name, lo,
                              failure_reason(exc), exc_info=True)
                    isolated[lo] = failure_reason(exc)
                    continue
                mid = (lo + hi) // 2
                log.warning("%s: %d records failed together (%s: %s); deciding %d and %d apart",
                            self.name, hi - lo, type(exc).__name__, exc, mid - lo, hi - mid)
                if self.metrics:
                    self.metrics.batch_split()
                pending += [(mid, hi), (lo, mid)]
        if not isolated and len(parts) == 1:
            return parts[0][1]
        rejected = dict(isolated)
        for lo, result in parts:
            rejected.update((lo + index, reason) for index, reason in result.rejected.items())
        return BatchResult(rejected=dict(sorted(rejected.items())), isolated=frozenset(isolated),
                           value=self.merge_values([result.value for _, result in parts]))

    def finish(self, batch, result):
        """Main thread, once the batch's transaction has committed: dead letters and follow-ups,
        acknowledged, then the batch's offsets; count it."""
        batch.poison.extend((batch.records[index], reason, ISOLATED if index in result.isolated else REJECTED,
                             self.request_id(batch.items[index])) for index, reason in result.rejected.items())
        self.with_kafka_retry(self.dead_letter, batch.poison)
        self.with_kafka_retry(self.after_commit, batch.items, result.value)
        committed = self.commit_offsets(batch.polled)
        self.messages_processed += len(batch.items) - len(result.rejected)
        self.messages_dead_lettered += len(batch.poison)
        self.batches_committed += 1
        self.batch_handled(batch.polled, result, dead_lettered=Counter(kind for _, _, kind, _ in batch.poison),
                           seconds=time.perf_counter() - batch.started, db_seconds=batch.db_seconds,
                           committed=committed)

    def take_in_flight(self):
        """Wait until the batch on the database thread has committed; returns (batch, result).
        Its exceptions (StoppedBeforeCommit, a bug) are raised here, in the main thread."""
        batch, future = self._in_flight
        self._in_flight = None
        return batch, future.result()

    def finish_in_flight(self):
        if self._in_flight is not None:
            self.finish(*self.take_in_flight())

    def batch_handled(self, polled, result, *, dead_lettered, seconds, db_seconds, committed=True):
        """Runs once per batch, after its offset commit (committed: False if it was refused):
        reports it to the metrics."""
        if self.metrics:
            self.metrics.batch_handled(self.consumer, polled, dead_lettered=dead_lettered,
                                       seconds=seconds, db_seconds=db_seconds, committed=committed)

    def process_with_retry(self, items):
        """Run the batch until its DB transaction commits. A failure of the database itself (a
        lost connection, a deadlock, a full disk: database_errors) is retried with backoff on a
        fresh connection; the batch is never skipped. A record's error, or the code's, is raised
        (process_isolating splits on it)."""
        delay, max_delay = self.retry_backoff_s
        give_up_at = None
        while True:
            try:
                if self.atomic_batch:
                    with transaction.atomic():
                        return self.process_batch(items)
                return self.process_batch(items)
            except (DatabaseError, InterfaceError) as exc:
                if not database_errors.is_the_databases(exc):
                    raise
                log.warning("%s: database error, retrying the batch of %d in %.1fs: %s",
                            self.name, len(items), delay, exc)
                if self.metrics:
                    self.metrics.database_retry()
                for conn in connections.all():
                    conn.close()  # reconnect on the next query
                give_up_at = self._check_stop_deadline(give_up_at)
                time.sleep(delay)
                delay = min(delay * 2, max_delay)

    def with_kafka_retry(self, action, *args):
        """Run a publish (dead letters, decision events) until the broker acknowledges it. While it
        fails, `publish_failing_since` says since when: the consumer is not ready then
        (streaming.metrics: /readyz answers 503, the alert fires), since nothing after this batch
        is decided until it goes through."""
        delay, max_delay = self.retry_backoff_s
        give_up_at = None
        while True:
            try:
                result = action(*args)
                self.publish_failing_since = None
                return result
            except PublishError as exc:
                if self.publish_failing_since is None:
                    self.publish_failing_since = time.monotonic()
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
        for record, reason, kind, request_id in poison:
            log.warning("%s: dead-lettering %s[%d]@%d rid=%s: %s", self.name, record.topic,
                        record.partition, record.offset, request_id or "-", reason)
            headers = [
                ("reason", reason.encode()),
                ("kind", kind.encode()),
                ("source_topic", record.topic.encode()),
                ("source_partition", str(record.partition).encode()),
                ("source_offset", str(record.offset).encode()),
            ]
            if request_id is not None:
                headers.append(("request_id", str(request_id).encode()))
            # A record put back by redrive_dead_letters keeps saying so when it fails again.
            headers += [(name, value) for name, value in record.headers or () if name == "redriven_from"]
            messages.append((record.key, record.value, headers))
        publish_many(self.dead_letter_topic, messages)

    def commit_offsets(self, polled) -> bool:
        """Commit the batch's offsets. False if the group refused the commit after a rebalance:
        the batch is redelivered, to whoever owns its partitions now. Any other failure leaves
        this consumer its partitions and its position, so its next commit covers the batch (a
        rebalance before that commit redelivers it too)."""
        offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1)
                   for tp, records in polled.items()}
        try:
            self.consumer.commit(offsets)
        except CommitFailedError:
            # The idempotent processing gives the redelivered records the outcomes already committed.
            log.warning("%s: offset commit refused after a rebalance; batch will be redelivered",
                        self.name)
            return False
        except KafkaError as exc:
            log.warning("%s: offset commit failed (%s); the next commit covers the batch", self.name, exc)
        return True
