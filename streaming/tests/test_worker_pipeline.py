"""The two-stage loop against the real broker: batches reach the database thread one at a time
and in Kafka order, follow-ups are sent from the main thread in the same order and only after
their batch committed, and the committed offsets end exactly past the last message."""
import threading
import uuid

from django.conf import settings
from kafka import KafkaProducer

from streaming.topics import committed_offsets, ensure_topics
from streaming.worker import BatchConsumerWorker, BatchResult

MESSAGES = 30


class RecordingWorker(BatchConsumerWorker):
    name = "recording"
    atomic_batch = False  # no database needed to show the ordering

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.processed, self.followed_up = [], []
        self.process_threads, self.follow_up_threads = set(), set()
        self.in_database = threading.Lock()
        self.overlapped = False

    def decode(self, record):
        return int(record.value)

    def process_batch(self, items):
        if not self.in_database.acquire(blocking=False):
            self.overlapped = True  # two batches in the database stage at once
        try:
            self.process_threads.add(threading.current_thread().name)
            self.processed.append(list(items))
            return BatchResult(value=list(items))
        finally:
            self.in_database.release()

    def after_commit(self, items, value):
        assert value in self.processed, "follow-up before its batch was processed"
        self.follow_up_threads.add(threading.current_thread().name)
        self.followed_up.append(value)
        if sum(len(v) for v in self.followed_up) == MESSAGES:
            self.request_stop()


def test_batches_are_processed_in_order_and_followed_up_from_the_main_thread(kafka_broker):
    topic = f"test.pipeline.{uuid.uuid4().hex[:8]}"
    ensure_topics({topic: 1})
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    for i in range(MESSAGES):
        producer.send(topic, str(i).encode())
    producer.flush()
    producer.close()

    group = f"pipeline-{uuid.uuid4().hex[:8]}"
    worker = RecordingWorker(topic=topic, group_id=group, max_poll_records=4)
    assert worker.run() == 0

    assert [i for batch in worker.processed for i in batch] == list(range(MESSAGES))
    assert worker.followed_up == worker.processed
    assert len(worker.processed) > 1 and not worker.overlapped
    assert worker.process_threads == {"recording-db_0"}
    assert worker.follow_up_threads == {threading.main_thread().name}
    assert worker.messages_processed == MESSAGES

    assert committed_offsets(group, topic) == {0: MESSAGES}
