"""BatchConsumerWorker.without_gaps: a hole in a partition's offsets is read again, not skipped.

The embedded broker produces such holes only now and then under concurrent producers (the
stress test in campaigns/tests/test_faults.py runs into them); here the worker is handed one."""
from types import SimpleNamespace

from kafka import TopicPartition

from streaming.worker import BatchConsumerWorker

TP = TopicPartition("t", 0)


class SeekRecorder:
    def __init__(self):
        self.seeks = []

    def seek(self, tp, offset):
        self.seeks.append((tp.partition, offset))


def worker():
    w = BatchConsumerWorker(topic="t", group_id="g")
    w.consumer = SeekRecorder()
    return w


def records(*offsets):
    return [SimpleNamespace(offset=o) for o in offsets]


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


def test_after_a_new_assignment_the_first_batch_sets_the_start():
    w = worker()
    w.without_gaps({TP: records(0, 1)})
    w.on_assignment([0])  # another member may have committed up to 500 meanwhile
    assert offsets(w.without_gaps({TP: records(500, 501)})) == {0: [500, 501]}
    assert w.consumer.seeks == []


def test_a_hole_that_never_fills_is_given_up_on_after_the_patience():
    w = worker()
    w.gap_patience_s = 0
    w.without_gaps({TP: records(0)})
    assert offsets(w.without_gaps({TP: records(4, 5)})) == {0: [4, 5]}
