"""Writes and the decision. The one place that decides who gets a coupon.

Kafka decides the *order*; the database decides the *outcome*, with the conditional update
    UPDATE campaign SET remaining_stock = remaining_stock - 1
     WHERE id = ? AND remaining_stock > 0       -- 1 row: issued, 0 rows: sold out
inside a transaction that also records the outcome under a unique (campaign, user) decision key.
"""
import logging
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.errors import BrokerUnavailable, CampaignNotOpen
from campaigns.messages import ParticipationRequest, encode_participation, message_key
from campaigns.models import Campaign, Participation
from campaigns.request_ids import new_request_id
from campaigns.selectors import campaign_get
from streaming.producer import PublishError, publish

log = logging.getLogger(__name__)

Status = Participation.Status


def campaign_create(*, name, total_stock, starts_at=None, ends_at=None) -> Campaign:
    campaign = Campaign(name=name, total_stock=total_stock, remaining_stock=total_stock,
                        starts_at=starts_at, ends_at=ends_at)
    campaign.full_clean()
    campaign.save()
    return campaign


def participation_submit(*, campaign_id, user_id, now=None) -> uuid.UUID:
    """Validate against the campaign's window, hand the request to Kafka, return its id.

    Returns only once the broker has acknowledged the message: an id handed out is a request
    that will be decided. Nothing is written to the database here.
    """
    campaign = campaign_get(campaign_id)
    now = now or timezone.now()
    status = campaign.status_at(now)
    if status == Campaign.Status.SCHEDULED:
        raise CampaignNotOpen(f"campaign {campaign.pk} opens at {campaign.starts_at.isoformat()}")
    if status == Campaign.Status.CLOSED:
        raise CampaignNotOpen(f"campaign {campaign.pk} closed at {campaign.ends_at.isoformat()}")
    request_id = new_request_id()
    try:
        publish(settings.FIRSTCOME_TOPIC,
                encode_participation(request_id, campaign.pk, user_id, now),
                key=message_key(campaign.pk, user_id, settings.FIRSTCOME_MESSAGE_KEY))
    except PublishError as exc:
        log.warning("participation for campaign %s not accepted: %s", campaign.pk, exc)
        raise BrokerUnavailable("the request could not be queued; nothing was recorded, retry") from exc
    return request_id


def participation_decide(request: ParticipationRequest) -> str:
    """Decide one request in its own transaction (the original design's path); return its status.

    Idempotent: a request already decided (a redelivered message) returns its recorded status
    and changes nothing. A concurrent decision for the same user (another consumer, another
    partition) trips the unique decision key; the transaction rolls back, stock included, and
    the request is decided again against what is now committed.
    """
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _decide_one(request)
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("decision race for user %r on campaign %s, deciding again",
                     request.user_id, request.campaign_id)


def _decide_one(request: ParticipationRequest) -> str:
    recorded = (Participation.objects.filter(request_id=request.request_id)
                .values_list("status", flat=True).first())
    if recorded:
        return recorded
    if Participation.objects.filter(campaign_id=request.campaign_id, user_id=request.user_id,
                                    is_decision=True).exists():
        status = Status.DUPLICATE
    else:
        issued = (Campaign.objects.filter(pk=request.campaign_id, remaining_stock__gt=0)
                  .update(remaining_stock=F("remaining_stock") - 1))
        status = Status.SUCCESS if issued else Status.SOLD_OUT
    Participation.objects.create(**_participation_fields(request, status, timezone.now()))
    return status


def _participation_fields(request, status, decided_at):
    return dict(
        request_id=request.request_id, campaign_id=request.campaign_id, user_id=request.user_id,
        status=status, is_decision=None if status == Status.DUPLICATE else True,
        topic=request.topic, partition=request.partition, offset=request.offset,
        broker_timestamp=request.broker_timestamp or request.received_at,
        received_at=request.received_at, decided_at=decided_at,
    )
