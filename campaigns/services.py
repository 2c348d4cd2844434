"""The write API of the campaigns app: what views, consumers and commands call to change state.

Each job lives in a module of its own; this module creates campaigns and names the rest:
  campaigns.submission  taking a participation request: window check, publish to Kafka
  campaigns.decision    deciding requests, one at a time or a polled batch in one transaction
  campaigns.rows        the participation row the decision writes, in each of its forms
  campaigns.redemption  redeeming a winner's coupon code, exactly once
"""
from campaigns.decision import Decision, participation_decide, participations_decide_batch
from campaigns.models import Campaign
from campaigns.redemption import coupon_redeem
from campaigns.submission import (Submission, participation_prepare, participation_publish_async,
                                  participation_submit)

__all__ = ["Decision", "Submission", "campaign_create", "coupon_redeem", "participation_decide", "participation_prepare",
           "participation_publish_async", "participation_submit", "participations_decide_batch"]


def campaign_create(*, name, total_stock, starts_at=None, ends_at=None) -> Campaign:
    campaign = Campaign(name=name, total_stock=total_stock, remaining_stock=total_stock,
                        starts_at=starts_at, ends_at=ends_at)
    campaign.full_clean()
    campaign.save()
    return campaign
