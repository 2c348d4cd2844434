"""The write API of the campaigns app: what views, consumers and commands call to change state.

Each job lives in a module of its own; this module creates and closes campaigns and names the rest:
  campaigns.submission  taking a participation request: window check, publish to Kafka
  campaigns.decision    deciding requests, one at a time or a polled batch in one transaction
  campaigns.rows        the participation row the decision writes, in each of its forms
  campaigns.redemption  redeeming a winner's coupon code, exactly once
"""
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.decision import Decision, participation_decide, participations_decide_batch
from campaigns.errors import CampaignChangedMeanwhile, CampaignNotOpen
from campaigns.models import Campaign
from campaigns.redemption import coupon_redeem
from campaigns.selectors import campaign_get, campaign_status_filter, campaign_window_cache_clear
from campaigns.submission import (Submission, participation_prepare, participation_publish_async,
                                  participation_submit)

__all__ = ["Decision", "Submission", "campaign_close_now", "campaign_create", "campaign_edit", "coupon_redeem", "participation_decide",
           "participation_prepare", "participation_publish_async", "participation_submit", "participations_decide_batch"]


def campaign_create(*, name, total_stock, starts_at=None, ends_at=None) -> Campaign:
    campaign = Campaign(name=name, total_stock=total_stock, remaining_stock=total_stock,
                        starts_at=starts_at, ends_at=ends_at)
    campaign.full_clean()
    campaign.save()
    return campaign


def campaign_edit(*, campaign: Campaign, changed) -> None:
    """Write only the columns an operator changed (an admin form's changed_data): a form read
    before a close, or before another operator's edit, never writes back what it did not touch.
    The changes are applied to the row as it is now, under its lock, and validated whole: an edit
    that was valid against the page but not against the row (a start moved past an end set
    meanwhile) raises CampaignChangedMeanwhile and writes nothing. Stock and counters are refused
    by Campaign.save(); the window may have moved, so this process forgets its cached windows (the
    others within FIRSTCOME_CAMPAIGN_CACHE_S)."""
    if not changed:
        return
    with transaction.atomic():
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        for name in changed:
            setattr(current, name, getattr(campaign, name))
        try:
            current.full_clean(exclude=Campaign.DECISION_FIELDS)  # not the edit's: no checks to run on them
        except ValidationError as exc:
            raise CampaignChangedMeanwhile(
                f"campaign {campaign.pk} changed since this page was opened: with this edit it would run "
                f"from {_moment(current.starts_at)} to {_moment(current.ends_at)} ({' '.join(exc.messages)}). "
                "Nothing was saved: reload the page and edit again.") from None
        current.save(update_fields=list(changed))
        # After the caller's commit too (the admin saves in its own transaction): cleared
        # earlier, a read in between would cache the old window again.
        transaction.on_commit(campaign_window_cache_clear)


def _moment(value) -> str:
    return timezone.localtime(value).isoformat() if value else "open-ended"


def campaign_close_now(*, campaign_id: int, now: datetime | None = None) -> Campaign:
    """End an open (or sold-out) campaign's window at `now`: from then on it takes no participation.
    What was accepted before is still decided (the window never decides an outcome).

    One conditional UPDATE of ends_at, so a campaign that closed or changed its window meanwhile is
    left alone: CampaignNotOpen says why (already closed, or not opened yet: its window is edited
    on the change page instead). This process forgets the cached windows at once; every other
    process sees the new end within FIRSTCOME_CAMPAIGN_CACHE_S (campaigns.selectors.campaign_window).
    """
    now = now or timezone.now()
    campaign = campaign_get(campaign_id)
    taking_participations = (campaign_status_filter(status=Campaign.Status.OPEN, now=now)
                             | campaign_status_filter(status=Campaign.Status.SOLD_OUT, now=now))
    # starts_at == now is open, but ends_at must stay after starts_at (campaign_ends_after_start).
    closable = Campaign.objects.filter(taking_participations, pk=campaign.pk).exclude(starts_at=now)
    if not closable.update(ends_at=now):
        campaign.refresh_from_db()
        if campaign.starts_at and campaign.starts_at >= now:
            raise CampaignNotOpen(f"campaign {campaign.pk} has not opened yet (it opens at "
                                  f"{timezone.localtime(campaign.starts_at).isoformat()}): change its window instead")
        if campaign.ends_at and campaign.ends_at <= now:
            raise CampaignNotOpen(f"campaign {campaign.pk} is already closed (at "
                                  f"{timezone.localtime(campaign.ends_at).isoformat()})")
        raise CampaignNotOpen(f"campaign {campaign.pk}'s window was changed while closing it: try again")
    campaign_window_cache_clear()
    campaign.refresh_from_db()
    return campaign
