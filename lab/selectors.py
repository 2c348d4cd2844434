"""Reads only the lab needs."""
from campaigns.messages import to_epoch_us
from campaigns.models import Participation
from lab.ordering import DecidedEvent


def decided_events(*, campaign_id: int) -> list[DecidedEvent]:
    """Every decided request of a campaign in decision order, as the ordering metrics want them."""
    us = to_epoch_us
    rows = (Participation.objects.filter(campaign_id=campaign_id).order_by("id")
            .values_list("id", "user_id", "status", "partition", "offset", "broker_timestamp",
                         "received_at", "decided_at").iterator(chunk_size=10_000))
    return [DecidedEvent(i, u, s, p, o, us(b), us(r), us(d)) for i, u, s, p, o, b, r, d in rows]
