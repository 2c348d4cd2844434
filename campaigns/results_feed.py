"""The decisions topic read by each web process, to answer result lookups without the database.

The first-come consumer publishes every decision after its commit (campaigns.consumers,
settings.FIRSTCOME_DECISIONS_TOPIC). Each web process reads that topic itself: no consumer group
(every process needs every decision, and a group would share them out), all partitions assigned,
starting a bounded number of messages before the end so a restarted worker knows the latest
decisions at once. kafka-python blocks, so the reading runs on a daemon thread that hands each
batch of events to the event loop (campaigns.answers.ResultAnswers.decided).

While the thread is not reading (starting, the broker gone, a partition reset) decisions may pass
unseen: it says so through on_gap once it reads again, so that whoever waits on a decision checks
the database instead of waiting for an event that already went by.
"""
import logging
import threading
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from campaigns.messages import DECISION_STATUSES, decode_decision_events
from streaming.errors import PoisonMessage

log = logging.getLogger(__name__)

RETRY_S = 1.0  # between two attempts to reach the broker


class DecisionFeed:
    def __init__(self, *, topic: str, bootstrap_servers, lookback_messages: int, on_events, on_gap):
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.lookback_messages = lookback_messages
        self.on_events = on_events  # called on the thread with a list of decision events
        self.on_gap = on_gap  # called on the thread each time reading (re)starts
        self._stop = threading.Event()
        self._thread = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="decision-feed", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self):
        while not self._stop.is_set():
            consumer = None
            try:
                consumer = self._positioned_consumer()
                if consumer is None:  # the topic does not exist yet
                    self._stop.wait(RETRY_S)
                    continue
                self.on_gap()
                self._read(consumer)
            except (KafkaError, OSError):
                log.warning("decision feed: reading %s failed; retrying", self.topic, exc_info=True)
                self._stop.wait(RETRY_S)
            finally:
                if consumer is not None:
                    consumer.close(autocommit=False)

    def _positioned_consumer(self):
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False,
                                 group_id=None, fetch_max_wait_ms=100, request_timeout_ms=5000)
        partitions = consumer.partitions_for_topic(self.topic)
        if not partitions:
            consumer.close(autocommit=False)
            return None
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        starts, ends = consumer.beginning_offsets(assigned), consumer.end_offsets(assigned)
        for tp in assigned:
            consumer.seek(tp, max(starts[tp], ends[tp] - self.lookback_messages))
        return consumer

    def _read(self, consumer):
        known = len(consumer.assignment())
        last_check = time.monotonic()
        while not self._stop.is_set():
            events = []
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    events.extend(self._answerable_events(record))
            if events:
                self.on_events(events)
            if time.monotonic() - last_check > 30:  # partitions added to the topic: start over
                last_check = time.monotonic()
                if len(consumer.partitions_for_topic(self.topic) or ()) != known:
                    return

    @staticmethod
    def _answerable_events(record) -> list[dict]:
        """The record's events that an answer can be made of. The stats consumer dead-letters a
        record it cannot read; here it is skipped, whatever is wrong with it: one record must not
        end the thread every lookup and long poll of this process depends on."""
        try:
            events = decode_decision_events(record)
        except PoisonMessage as exc:
            log.warning("decision feed: %s[%d]@%d skipped: %s", record.topic, record.partition, record.offset, exc)
            return []
        except Exception:
            log.exception("decision feed: %s[%d]@%d skipped", record.topic, record.partition, record.offset)
            return []
        kept = [event for event in events if answerable(event)]
        if len(kept) < len(events):
            log.warning("decision feed: %s[%d]@%d: %d of %d events skipped (not a decision's fields)",
                        record.topic, record.partition, record.offset, len(events) - len(kept), len(events))
        return kept


def answerable(event: dict) -> bool:
    """The fields an answer and the caches use have the types a decision gives them (a hostile
    value must not raise on the event loop, where the events are handed)."""
    return (type(event["request_id"]) is str and type(event["campaign_id"]) is int
            and type(event["user_id"]) is str and type(event["status"]) is str and event["status"] in DECISION_STATUSES
            and (event["coupon_code"] is None or type(event["coupon_code"]) is str))
