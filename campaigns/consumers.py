"""What a batch of participation requests means to the first-come consumer."""
from campaigns import services
from campaigns.messages import decode_participation
from campaigns.selectors import campaign_ids_existing
from streaming.worker import BatchConsumerWorker, BatchResult


class FirstComeConsumer(BatchConsumerWorker):
    name = "consume_firstcome"
    # per-event: one transaction per message, as the original design (the baseline).
    atomic_batch = False

    def decode(self, record):
        return decode_participation(record)

    def process_batch(self, requests):
        known = campaign_ids_existing(r.campaign_id for r in requests)
        rejected = {i: f"unknown campaign {r.campaign_id}"
                    for i, r in enumerate(requests) if r.campaign_id not in known}
        outcomes = [None] * len(requests)
        for i, request in enumerate(requests):
            if i not in rejected:
                outcomes[i] = services.participation_decide(request)
        return BatchResult(rejected=rejected, value=outcomes)
