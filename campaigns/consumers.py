"""What a batch of participation requests means to the first-come consumer."""
from collections import Counter

from prometheus_client import Counter as MetricCounter

from campaigns import services
from campaigns.messages import decode_participation, encode_decision_events
from campaigns.selectors import campaign_ids_existing
from streaming.producer import publish_many
from streaming.worker import BatchConsumerWorker, BatchResult

MODES = ("batch", "per-event")

DECISIONS = MetricCounter(
    "firstcome_decisions_total",
    "Requests decided by this consumer, by outcome (a redelivered request counts again, with the "
    "outcome it already had).", ["outcome"])


class FirstComeConsumer(BatchConsumerWorker):
    name = "consume_firstcome"

    def __init__(self, *, mode="batch", decisions_topic=None, **kwargs):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        super().__init__(**kwargs)
        self.mode = mode
        # batch: the whole poll is decided in one transaction. per-event: one transaction per
        # message, as the original design did (kept as the baseline).
        self.atomic_batch = mode == "batch"
        self.decisions_topic = decisions_topic

    def decode(self, record):
        return decode_participation(record)

    def process_batch(self, requests):
        if self.mode == "batch":
            decisions = services.participations_decide_batch(requests)
        else:
            known = campaign_ids_existing(r.campaign_id for r in requests)
            decisions = [services.participation_decide(r) if r.campaign_id in known else None
                         for r in requests]
        rejected = {i: f"unknown campaign {requests[i].campaign_id}"
                    for i, decision in enumerate(decisions) if decision is None}
        return BatchResult(rejected=rejected, value=[d for d in decisions if d is not None])

    def batch_handled(self, polled, result, **timings):
        super().batch_handled(polled, result, **timings)
        if self.metrics:
            for status, count in Counter(d.status for d in result.value or ()).items():
                DECISIONS.labels(status).inc(count)

    def after_commit(self, requests, decisions):
        if self.decisions_topic and decisions:
            publish_many(self.decisions_topic, [(None, value, None) for value in encode_decision_events(decisions)])
