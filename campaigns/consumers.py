"""What a batch of participation requests means to the first-come consumer."""
import logging
from collections import Counter

from prometheus_client import Counter as MetricCounter

from campaigns import services
from campaigns.messages import decode_participation, encode_decision_events
from campaigns.selectors import campaign_ids_existing
from streaming.producer import publish_many
from streaming.worker import BatchConsumerWorker, BatchResult

log = logging.getLogger(__name__)

MODES = ("batch", "per-event")
# Decisions per line of a batch's log: a batch of thousands is a few lines, each well under
# journald's line limit (LineMax, 48K by default), past which it splits a line in pieces.
DECISIONS_PER_LINE = 500

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
        if result.value and log.isEnabledFor(logging.INFO):
            self.log_decided(polled=polled, decisions=result.value)

    def log_decided(self, *, polled: dict, decisions: list) -> None:
        """Each request id with its outcome, once the batch's offsets are committed, so that
        grepping a request id (the 202's, the access log's rid) finds the batch that decided it:
        `<request id>=<status>` pairs, a few lines per batch rather than one per request."""
        where = ", ".join(f"{tp.topic}[{tp.partition}]@{records[0].offset}-{records[-1].offset}"
                          for tp, records in polled.items())
        total = len(decisions)
        for start in range(0, total, DECISIONS_PER_LINE):
            part = decisions[start:start + DECISIONS_PER_LINE]
            log.info("%s: decided %d-%d of %d (%s): %s", self.name, start + 1, start + len(part), total, where,
                     " ".join(f"{d.request.request_id}={d.status}" for d in part))

    def after_commit(self, requests, decisions):
        if self.decisions_topic and decisions:
            publish_many(self.decisions_topic, [(None, value, None) for value in encode_decision_events(decisions)])
