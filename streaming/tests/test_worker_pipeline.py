"""The two-stage loop against the real broker and MariaDB: batches reach the database thread one
at a time and in Kafka order, each in its own committed transaction; follow-ups are sent from the
main thread in the same order, only after their batch committed, while the next batch is already
in the database stage; the committed offsets end exactly past the last message."""
import threading

import pytest
from django.db import transaction

from streaming.producer import publish_many
from streaming.topics import committed_offsets
from streaming.worker import BatchConsumerWorker, BatchResult
from testsupport.polling import poll

MESSAGES = 30

pytestmark = pytest.mark.django_db(transaction=True)  # the database thread's transactions commit


class RecordingWorker(BatchConsumerWorker):
    name = "recording"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.processed, self.followed_up = [], []
        self.committed = set()  # batches whose transaction committed (on_commit, database thread)
        self.process_threads, self.follow_up_threads = set(), set()
        self.overlapped = False  # a batch's follow-ups ran while the next one was in the database

    def decode(self, record):
        return int(record.value)

    def process_batch(self, items):
        self.process_threads.add(threading.current_thread().name)
        index = len(self.processed)
        self.processed.append(list(items))
        transaction.on_commit(lambda: self.committed.add(index))
        return BatchResult(value=index)

    def after_commit(self, items, index):
        assert index in self.committed, "follow-up before its batch's transaction committed"
        if index == 0:
            # The loop hands batch 1 to the database thread before it finishes batch 0: wait here
            # until it is there. Without the overlap this waits in vain and the test fails.
            poll(lambda: len(self.processed) > 1, timeout=10, message="the next batch in the database stage")
            self.overlapped = True
        self.follow_up_threads.add(threading.current_thread().name)
        self.followed_up.append(index)
        if sum(len(self.processed[i]) for i in self.followed_up) == MESSAGES:
            self.request_stop()


def test_batches_are_processed_in_order_and_followed_up_from_the_main_thread(kafka_topics, settings):
    publish_many(settings.FIRSTCOME_TOPIC, [(None, str(i).encode(), None) for i in range(MESSAGES)])

    worker = RecordingWorker(topic=settings.FIRSTCOME_TOPIC, group_id=settings.FIRSTCOME_GROUP_ID,
                             max_poll_records=4)
    assert worker.run() == 0

    assert [i for batch in worker.processed for i in batch] == list(range(MESSAGES))
    assert worker.followed_up == list(range(len(worker.processed))) and worker.overlapped
    assert worker.process_threads == {"recording-db_0"}
    assert worker.follow_up_threads == {threading.main_thread().name}
    assert worker.messages_processed == MESSAGES
    assert committed_offsets(settings.FIRSTCOME_GROUP_ID, settings.FIRSTCOME_TOPIC) == {0: MESSAGES}
