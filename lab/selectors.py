"""Reads only the lab needs."""
from campaigns.messages import to_epoch_us
from campaigns.models import Participation
from stats.ordering import DecidedEvent


def decided_events(*, campaign_id: int) -> list[DecidedEvent]:
    """Every decided request of a campaign in decision order, as the ordering metrics want them."""
    us = to_epoch_us
    rows = (Participation.objects.filter(campaign_id=campaign_id).order_by("id")
            .values_list("id", "user_id", "status", "partition", "offset", "broker_timestamp",
                         "received_at", "decided_at").iterator(chunk_size=10_000))
    return [DecidedEvent(i, u, s, p, o, us(b), us(r), us(d)) for i, u, s, p, o, b, r, d in rows]


def decision_latencies_ms(*, campaign_id: int) -> list[float]:
    """Receipt (the API's 202) to decision (the consumer's commit) of each decided request, in ms."""
    rows = Participation.objects.filter(campaign_id=campaign_id).values_list("received_at", "decided_at")
    return [(decided - received).total_seconds() * 1000 for received, decided in rows.iterator(chunk_size=10_000)]
