"""The decision consumer run in the test's own process, stopping once it has handled a known
number of records."""
from campaigns.consumers import FirstComeConsumer
from streaming.metrics import ConsumerMetrics


class StopsWhenAllHandled(FirstComeConsumer):
    """Stops once `expected` records are committed (decided or dead-lettered)."""

    def __init__(self, *, expected, **kwargs):
        super().__init__(**kwargs)
        self.expected = expected

    def batch_handled(self, polled, result, **kwargs):
        super().batch_handled(polled, result, **kwargs)
        if self.messages_processed + self.messages_dead_lettered >= self.expected:
            self.request_stop()


def first_come_worker(settings, **kwargs):
    """A StopsWhenAllHandled on this test's topics, with its own metrics."""
    worker = StopsWhenAllHandled(topic=settings.FIRSTCOME_TOPIC, group_id=settings.FIRSTCOME_GROUP_ID,
                                 dead_letter_topic=settings.FIRSTCOME_DLQ_TOPIC, **kwargs)
    worker.metrics = ConsumerMetrics(worker.name, worker.topic)
    return worker
