"""BatchConsumerWorker.without_gaps: a hole in a partition's offsets is read again, not skipped.

The embedded broker produces such holes only now and then under concurrent producers (the
stress test in campaigns/tests/test_faults.py runs into them); here the worker is handed one.
test_worker_isolation.py holds the same rules against the real broker."""
import time
from types import SimpleNamespace

import pytest
from kafka import TopicPartition

from streaming.worker import BatchConsumerWorker, in_kafka_order

TP = TopicPartition("t", 0)


class SeekRecorder:
    """The consumer as without_gaps sees it: seeks recorded, the group's committed offset known."""

    def __init__(self):
        self.seeks = []
        self.committed_offset = 0

    def seek(self, tp, offset):
        self.seeks.append((tp.partition, offset))

    def committed(self, tp, timeout_ms=None):
        return self.committed_offset


def worker():
    w = BatchConsumerWorker(topic="t", group_id="g")
    w.consumer = SeekRecorder()
    return w


def records(*offsets, age_s=0):
    timestamp = (time.time() - age_s) * 1000
    return [SimpleNamespace(offset=o, timestamp=timestamp) for o in offsets]


def offsets(polled):
    return {tp.partition: [r.offset for r in rs] for tp, rs in polled.items()}


def test_contiguous_batches_pass_untouched():
    w = worker()
    assert offsets(w.without_gaps({TP: records(0, 1, 2)})) == {0: [0, 1, 2]}
    assert offsets(w.without_gaps({TP: records(3, 4)})) == {0: [3, 4]}
    assert w.consumer.seeks == []


def test_a_batch_that_jumps_ahead_is_dropped_and_the_hole_read_again():
    w = worker()
    w.without_gaps({TP: records(0, 1, 2)})
    assert w.without_gaps({TP: records(11, 12)}) == {}
    assert w.consumer.seeks == [(0, 3)]
    assert offsets(w.without_gaps({TP: records(3, 4, 5)})) == {0: [3, 4, 5]}


def test_a_hole_inside_a_batch_cuts_it_there():
    w = worker()
    assert offsets(w.without_gaps({TP: records(0, 1, 5, 6)})) == {0: [0, 1]}
    assert w.consumer.seeks == [(0, 2)]


def test_redelivered_records_are_taken():
    w = worker()
    w.without_gaps({TP: records(0, 1, 2, 3)})
    assert offsets(w.without_gaps({TP: records(1, 2, 3, 4)})) == {0: [1, 2, 3, 4]}
    assert w.consumer.seeks == []


def test_after_a_new_assignment_the_first_batch_starts_at_the_committed_offset():
    w = worker()
    w.without_gaps({TP: records(0, 1)})
    w.on_assignment([0])
    w.consumer.committed_offset = 500  # another member committed up to 500 meanwhile
    assert offsets(w.without_gaps({TP: records(500, 501)})) == {0: [500, 501]}
    assert w.consumer.seeks == []


def test_the_first_batch_after_an_assignment_is_checked_for_a_hole_too():
    w = worker()
    w.on_assignment([0])
    w.consumer.committed_offset = 500
    assert w.without_gaps({TP: records(508, 509)}) == {}
    assert w.consumer.seeks == [(0, 500)]
    assert offsets(w.without_gaps({TP: records(500, 501)})) == {0: [500, 501]}


def test_a_hole_that_never_fills_stalls_the_partition_and_is_never_skipped():
    w = worker()
    w.gap_patience_s = 5
    w.without_gaps({TP: records(0)})
    for _ in range(3):
        assert w.without_gaps({TP: records(4, 5, age_s=10)}) == {}
    assert w.consumer.seeks == [(0, 1)] * 3
    assert w.stalled == {TP: 1}
    assert offsets(w.without_gaps({TP: records(1, 2)})) == {0: [1, 2]}  # filled at last
    assert w.stalled == {}


@pytest.mark.parametrize("timestamp", [None, -1])
def test_records_without_a_timestamp_are_ordered_and_aged_not_a_crash(timestamp):
    """Kafka's "no timestamp" (-1; kafka-python gives None for the old message format): merged
    first across partitions, and a hole before one is reported stalled at once (its age unknown,
    it is taken as old: loud rather than silent)."""
    untimed = SimpleNamespace(offset=4, timestamp=timestamp)
    timed = records(0)[0]
    assert in_kafka_order({TP: [untimed], TopicPartition("t", 1): [timed]}) == [untimed, timed]
    w = worker()
    w.without_gaps({TP: records(0)})
    assert w.without_gaps({TP: [untimed]}) == {}
    assert w.stalled == {TP: 1}
