"""Test data: campaigns, participation requests as the consumer decodes them, and decision
events as the stats consumer stores them."""
from datetime import datetime, timedelta

import factory
from django.utils import timezone

from campaigns.coupons import coupon_codes
from campaigns.messages import ParticipationRequest, to_epoch_us
from campaigns.models import Campaign
from campaigns.request_ids import new_request_id
from testsupport.identity import ACTING


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"campaign {n}")
    total_stock = 50
    remaining_stock = factory.SelfAttribute("total_stock")


def participation_request(campaign, user_id, *, offset=0, partition=0, topic="test", received_at=None,
                          broker_timestamp=..., **fields):
    """A ParticipationRequest as the consumer would decode it from Kafka (times as datetimes:
    broker_timestamp None for a request that bypassed Kafka)."""
    received_at = received_at or timezone.now()
    if broker_timestamp is ...:
        broker_timestamp = received_at + timedelta(milliseconds=1)
    values = dict(request_id=new_request_id(), campaign_id=campaign.pk, user_id=user_id,
                  received_us=to_epoch_us(received_at), topic=topic, partition=partition, offset=offset,
                  broker_us=None if broker_timestamp is None else to_epoch_us(broker_timestamp))
    values.update(fields)
    if isinstance(values["user_id"], str):
        ACTING.owners[str(values["request_id"])] = values["user_id"]  # its owner looks it up (testsupport.identity)
    return ParticipationRequest(**values)


def decision_event(campaign, status="SUCCESS", *, received_at=None, user_id=None, offset=0, **fields):
    """A decision event as consume_stats hands it to decision_events_store."""
    received_at = received_at or timezone.now()
    us = to_epoch_us(received_at)
    values = dict(request_id=new_request_id(), campaign_id=getattr(campaign, "pk", campaign),
                  user_id=user_id or f"user-{offset}", status=status, topic="test", partition=0,
                  offset=offset, broker_timestamp_us=us + 1000, received_at_us=us,
                  decided_at_us=us + 2000, coupon_code=coupon_codes(1)[0] if status == "SUCCESS" else None)
    values.update(fields)
    return values


def decision_events(campaign, counts: dict, *, received_at: datetime | None = None):
    """{status: n} → that many events for the campaign, all received at received_at."""
    return [decision_event(campaign, status, received_at=received_at, offset=i)
            for status, n in counts.items() for i in range(n)]


def staff_account(username, password="staff-pass", *, role):
    """A staff account in one role (campaigns.roles): "manager" (is_staff, the admin and the staff
    API), "till" (redeems only; not is_staff) or "superuser"."""
    from django.contrib.auth.models import Group, User

    from campaigns import roles

    if role == "superuser":
        return User.objects.create_superuser(username, password=password)
    roles.roles_ensure()
    user = User.objects.create_user(username, password=password, is_staff=role == "manager")
    user.groups.add(Group.objects.get(name={"manager": roles.CAMPAIGN_MANAGERS, "till": roles.TILLS}[role]))
    return user
