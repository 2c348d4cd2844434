"""Taking a participation request: check the campaign's window, hand the request to Kafka, and
return its id once the broker has acknowledged it. Nothing is written to the database here; the
decision (campaigns.decision) records the outcome later."""
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from campaigns.errors import BrokerUnavailable, CampaignNotOpen, CampaignSoldOut
from campaigns.refusals import sold_out_refusals
from campaigns.messages import encode_participation, message_key
from campaigns.models import Campaign
from campaigns.request_ids import new_request_id
from campaigns.selectors import CampaignWindow, campaign_window
from streaming.producer import PublishError, publish, publish_async

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Submission:
    """A participation request ready for Kafka: its id, and the message that carries it."""

    campaign_id: int
    request_id: uuid.UUID
    value: bytes
    key: bytes | None


def participation_submit(*, campaign_id, user_id, now=None) -> uuid.UUID:
    """Validate against the campaign's window, hand the request to Kafka, return its id.

    Returns only once the broker has acknowledged the message: an id handed out is a request
    that will be decided. Nothing is written to the database here.
    """
    now = now or timezone.now()
    try:
        submission = participation_prepare(campaign_window(campaign_id), user_id, now)
    except CampaignSoldOut:
        sold_out_refusals.record(campaign_id)  # the views throttle before this: a 409 is sent
        raise
    try:
        publish(settings.FIRSTCOME_TOPIC, submission.value, key=submission.key)
    except PublishError as exc:
        raise _not_accepted(submission, exc) from exc
    return submission.request_id


def participation_prepare(campaign: CampaignWindow, user_id, now) -> Submission:
    """The request as it will be published, if the campaign takes participations at `now`;
    CampaignNotOpen if not, CampaignSoldOut once the stock is gone (the caller counts it in
    campaigns.refusals once it answers the 409). No I/O: the ASGI ingest calls it on its event
    loop."""
    check_open(campaign, now)
    request_id = new_request_id()
    return Submission(campaign.pk, request_id, encode_participation(request_id, campaign.pk, user_id, now),
                      message_key(campaign.pk, user_id, settings.FIRSTCOME_MESSAGE_KEY))


async def participation_publish_async(submission: Submission) -> uuid.UUID:
    """participation_submit()'s publish step on an event loop: same acknowledgement, same error."""
    try:
        await publish_async(settings.FIRSTCOME_TOPIC, submission.value, key=submission.key)
    except PublishError as exc:
        raise _not_accepted(submission, exc) from exc
    return submission.request_id


def check_window(campaign: CampaignWindow, now) -> None:
    """CampaignNotOpen unless the campaign takes participations at `now` (Campaign.window_status,
    the rule the campaign's displayed status follows too)."""
    status = Campaign.window_status(starts_at=campaign.starts_at, ends_at=campaign.ends_at, now=now)
    if status == Campaign.Status.SCHEDULED:
        raise CampaignNotOpen(f"campaign {campaign.pk} opens at {campaign.starts_at.isoformat()}")
    if status == Campaign.Status.CLOSED:
        raise CampaignNotOpen(f"campaign {campaign.pk} closed at {campaign.ends_at.isoformat()}")


def check_open(campaign: CampaignWindow, now) -> None:
    """check_window, and CampaignSoldOut once the stock is gone: a request queued then could only
    be decided SOLD_OUT (or DUPLICATE), so it is not worth a message."""
    check_window(campaign, now)
    if campaign.sold_out:
        raise CampaignSoldOut(f"campaign {campaign.pk} is sold out")


def _not_accepted(submission, exc):
    log.warning("participation for campaign %s not accepted: %s", submission.campaign_id, exc)
    return BrokerUnavailable("the request could not be queued; nothing was recorded, retry")
