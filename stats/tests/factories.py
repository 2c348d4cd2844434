from datetime import datetime

from django.utils import timezone

from campaigns.messages import to_epoch_us
from campaigns.request_ids import new_request_id


def decision_event(campaign, status="SUCCESS", *, received_at=None, user_id=None, offset=0, **fields):
    """A decision event as consume_stats hands it to decision_events_store."""
    received_at = received_at or timezone.now()
    us = to_epoch_us(received_at)
    values = dict(request_id=new_request_id(), campaign_id=getattr(campaign, "pk", campaign),
                  user_id=user_id or f"user-{offset}", status=status, topic="test", partition=0,
                  offset=offset, broker_timestamp_us=us + 1000, received_at_us=us,
                  decided_at_us=us + 2000)
    values.update(fields)
    return values


def decision_events(campaign, counts: dict, *, received_at: datetime | None = None):
    """{status: n} → that many events for the campaign, all received at received_at."""
    return [decision_event(campaign, status, received_at=received_at, offset=i)
            for status, n in counts.items() for i in range(n)]
